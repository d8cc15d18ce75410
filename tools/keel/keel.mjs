#!/usr/bin/env node
// keel: an xe-like host CLI for the management agent (docs/agent.md), on the
// npm xen-api client that ci/deps.sh installs into build/npm (unmodified).
//
//   keel [--url URL] [--user U] [--password P] VERB [ARGS]
//     vm-list                          uuid, domid, power state, memory, name
//     vm-create NAME MEM_MIB KERNEL [ARGS...]   prints the new VM's uuid
//     template-create NAME MEM_MIB KERNEL [ARGS...]   the same, as a template
//     vm-install TEMPLATE NAME         VM.clone + VM.provision, as xe vm-install (prints the uuid)
//     vm-start VM [--paused]
//     vm-pause VM | vm-unpause VM
//     vm-shutdown VM [--force]         clean shutdown (control/shutdown), or hard
//     vm-reboot VM [--force]           clean reboot (control/shutdown), or hard
//     vm-destroy VM                    forgets a halted VM
//     network-list                     uuid, bridge, name of each network
//     vif-list                         VM, device, MAC, network, MTU, attached
//     vif-create VM NETWORK DEVICE [MAC]   a VIF of a halted VM (prints its uuid)
//     vif-destroy VM DEVICE            removes a halted VM's VIF
//     vdi-list                         uuid, location, read-only, VMs using it, name
//   VM is a name label (it must be unique) or a uuid.  The URL, user and
//   password also come from KEEL_URL, KEEL_USER, KEEL_PASSWORD (defaults
//   http://127.0.0.1:8081, root, none).  A XenAPI failure is printed as
//   "keel: CODE(params)" and the exit status is 1; a usage error exits 2.
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const top = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const { Xapi } = await import(resolve(top, 'build/npm/node_modules/xen-api/index.mjs'))

function usage(msg) {
  console.error(`keel: ${msg}\nusage: keel [--url URL] [--user U] [--password P] ` +
    'vm-list | vm-create NAME MEM_MIB KERNEL [ARGS...] | template-create NAME MEM_MIB KERNEL [ARGS...] | ' +
    'vm-install TEMPLATE NAME | vm-start VM [--paused] | ' +
    'vm-pause VM | vm-unpause VM | vm-shutdown VM [--force] | vm-reboot VM [--force] | ' +
    'vm-destroy VM | network-list | vif-list | vif-create VM NETWORK DEVICE [MAC] | ' +
    'vif-destroy VM DEVICE | vdi-list')
  process.exit(2)
}

const argv = process.argv.slice(2)
const opt = { url: process.env.KEEL_URL ?? 'http://127.0.0.1:8081',
  user: process.env.KEEL_USER ?? 'root', password: process.env.KEEL_PASSWORD }
while (argv.length && argv[0].startsWith('--')) {
  const k = argv.shift().slice(2)
  if (!['url', 'user', 'password'].includes(k) || !argv.length) usage(`bad option --${k}`)
  opt[k] = argv.shift()
}
const verb = argv.shift()
if (!verb) usage('no verb')
if (opt.password === undefined) usage('no password (--password or KEEL_PASSWORD)')

const xapi = new Xapi({ url: opt.url, auth: { user: opt.user, password: opt.password },
  watchEvents: false })

// A VM's ref from a uuid or a unique name label.
async function vmRef(which) {
  if (!which) usage('no VM named')
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(which))
    return xapi.call('VM.get_by_uuid', which)
  const refs = await xapi.call('VM.get_by_name_label', which)
  if (refs.length !== 1) {
    console.error(`keel: ${refs.length} VMs are named ${which}: give a uuid`)
    process.exit(1)
  }
  return refs[0]
}

const verbs = {
  async 'vm-list'() {
    const vms = Object.values(await xapi.call('VM.get_all_records'))
    vms.sort((a, b) => a.domid - b.domid)
    console.log('uuid                                  domid  power_state  memory  name')
    for (const v of vms) {
      const mib = Math.round(v.memory_static_max / 1048576)
      console.log(`${v.uuid}  ${String(v.domid).padStart(5)}  ${v.power_state.padEnd(11)}  ` +
        `${String(mib).padStart(4)}M  ${v.name_label}`)
    }
  },
  async 'vm-create'(name, mem, kernel, ...args) {
    if (!name || !mem || !kernel || !/^[0-9]+$/.test(mem)) usage('vm-create NAME MEM_MIB KERNEL [ARGS...]')
    const ref = await xapi.call('VM.create', { name_label: name,
      memory_static_max: String(Number(mem) * 1048576), PV_kernel: kernel, PV_args: args.join(' ') })
    console.log(await xapi.call('VM.get_uuid', ref))
  },
  async 'template-create'(name, mem, kernel, ...args) {
    if (!name || !mem || !kernel || !/^[0-9]+$/.test(mem)) usage('template-create NAME MEM_MIB KERNEL [ARGS...]')
    const ref = await xapi.call('VM.create', { name_label: name, is_a_template: true,
      memory_static_max: String(Number(mem) * 1048576), PV_kernel: kernel, PV_args: args.join(' ') })
    console.log(await xapi.call('VM.get_uuid', ref))
  },
  async 'vm-install'(template, name) {
    if (!template || !name) usage('vm-install TEMPLATE NAME')
    const t = await vmRef(template)
    if (!(await xapi.call('VM.get_is_a_template', t))) usage(`vm-install: ${template} is not a template`)
    const ref = await xapi.call('VM.clone', t, name)
    await xapi.call('VM.provision', ref)
    console.log(await xapi.call('VM.get_uuid', ref))
  },
  async 'vm-start'(vm, flag) {
    if (flag !== undefined && flag !== '--paused') usage(`vm-start: bad ${flag}`)
    const ref = await vmRef(vm)
    process.stderr.write(`starting ${vm}... `)
    await xapi.call('VM.start', ref, flag === '--paused', false)
    console.error(`${await xapi.call('VM.get_power_state', ref)}, domain ${await xapi.call('VM.get_domid', ref)}`)
  },
  async 'vm-pause'(vm) { await xapi.call('VM.pause', await vmRef(vm)) },
  async 'vm-unpause'(vm) { await xapi.call('VM.unpause', await vmRef(vm)) },
  async 'vm-shutdown'(vm, flag) {
    if (flag !== undefined && flag !== '--force') usage(`vm-shutdown: bad ${flag}`)
    await xapi.call(flag === '--force' ? 'VM.hard_shutdown' : 'VM.clean_shutdown', await vmRef(vm))
  },
  async 'vm-reboot'(vm, flag) {
    if (flag !== undefined && flag !== '--force') usage(`vm-reboot: bad ${flag}`)
    const ref = await vmRef(vm)
    await xapi.call(flag === '--force' ? 'VM.hard_reboot' : 'VM.clean_reboot', ref)
    console.error(`${vm}: ${await xapi.call('VM.get_power_state', ref)}, domain ${await xapi.call('VM.get_domid', ref)}`)
  },
  async 'vm-destroy'(vm) { await xapi.call('VM.destroy', await vmRef(vm)) },
  async 'network-list'() {
    const nets = Object.values(await xapi.call('network.get_all_records'))
    console.log('uuid                                  bridge      name')
    for (const n of nets) console.log(`${n.uuid}  ${n.bridge.padEnd(10)}  ${n.name_label}`)
  },
  async 'vif-list'() {
    const vifs = Object.values(await xapi.call('VIF.get_all_records'))
    const vms = await xapi.call('VM.get_all_records')
    const nets = await xapi.call('network.get_all_records')
    const rows = vifs.map(v => [vms[v.VM]?.name_label ?? v.VM, v.device, v.MAC,
      nets[v.network]?.name_label ?? '(gone)', String(v.MTU),
      v.currently_attached ? 'attached' : 'detached'])
    rows.sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]))
    console.log('vm                device  mac                network     mtu   state')
    for (const r of rows)
      console.log(`${r[0].padEnd(16)}  ${r[1].padEnd(6)}  ${r[2]}  ${r[3].padEnd(10)}  ${r[4].padEnd(4)}  ${r[5]}`)
  },
  async 'vif-create'(vm, net, device, mac) {
    if (!vm || !net || !device) usage('vif-create VM NETWORK DEVICE [MAC]')
    const vmr = await vmRef(vm)
    const nets = await xapi.call('network.get_by_name_label', net)
    if (nets.length !== 1) {
      console.error(`keel: ${nets.length} networks are named ${net}`)
      process.exit(1)
    }
    const ref = await xapi.call('VIF.create', { VM: vmr, network: nets[0], device,
      MAC: mac ?? '', MTU: '1500', other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} })
    console.log(await xapi.call('VIF.get_uuid', ref))
  },
  async 'vdi-list'() {
    const vdis = Object.values(await xapi.call('VDI.get_all_records'))
    const vbds = await xapi.call('VBD.get_all_records')
    const vms = await xapi.call('VM.get_all_records')
    console.log('uuid                                  location              ro  vms  name')
    for (const d of vdis) {
      const users = d.VBDs.map(b => vms[vbds[b]?.VM]?.name_label ?? '?').join(',') || '-'
      console.log(`${d.uuid}  ${d.location.padEnd(20)}  ${d.read_only ? 'ro' : 'rw'}  ${users}  ${d.name_label}`)
    }
  },
  async 'vif-destroy'(vm, device) {
    if (!vm || device === undefined) usage('vif-destroy VM DEVICE')
    const vmr = await vmRef(vm)
    for (const v of await xapi.call('VM.get_VIFs', vmr))
      if (await xapi.call('VIF.get_device', v) === device) return xapi.call('VIF.destroy', v)
    console.error(`keel: ${vm} has no VIF ${device}`)
    process.exit(1)
  },
}
if (!verbs[verb]) usage(`unknown verb ${verb}`)

let status = 0
try {
  await xapi.connect()
  await verbs[verb](...argv)
} catch (e) {
  console.error(e.code !== undefined && Array.isArray(e.params)
    ? `keel: ${e.code}(${e.params.join(', ')})` : `keel: ${e.message}`)
  status = 1
}
try { await xapi.disconnect() } catch { /* the session may be gone already */ }
process.exit(status)
