/*
 * The RTC and CMOS of an HVM domain (docs/hvm.md, "HVM from firmware"):
 * an MC146818 at ports 0x70 (index; bit 7 the NMI mask, kept) and 0x71
 * (data), emulated in the hypervisor as Xen's hvm/rtc.c.  The clock reads
 * the host's wallclock (BCD or binary, 12- or 24-hour as register B says;
 * the guest's writes to the clock registers are ignored: its time is the
 * host's); register A has no update in progress, C no interrupt flags, D
 * says the battery is good.  The other bytes are NVRAM, filled by the
 * builder as QEMU's pc machine fills them (rtc_init_cmos): base and
 * extended memory, memory above 16 MiB and 4 GiB, the CPU count, no
 * floppy, the boot order (disk first) -- what SeaBIOS reads when there is
 * no fw_cfg -- and the guest may write them.  No periodic, alarm or
 * update interrupt (no PIC/IOAPIC to deliver it yet).
 */
#include "lib.h"
#include "domain.h"
#include "hvm.h"
#include "hvm_internal.h"
#include "time.h"
#include "timer.h"

#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define B_24H 0x02
#define B_BIN 0x04

static void put(struct hvm_rtc *c, unsigned i, uint8_t v)
{
    c->nvram[i & 0x7f] = v;
}

void hvm_rtc_init(struct domain *d, uint64_t ram_bytes, unsigned nr_vcpus)
{
    struct hvm_rtc *c = &d->arch.hvm.rtc;
    memset(c, 0, sizeof(*c));
    put(c, REG_A, 0x26);                 /* 32.768 kHz time base, 1024 Hz rate */
    put(c, REG_B, B_24H);                /* BCD, 24-hour */
    put(c, REG_D, 0x80);                 /* valid RAM and time */
    put(c, 0x10, 0x00);                  /* no floppy drives */
    put(c, 0x14, 0x06);                  /* equipment: VGA/EGA display, a coprocessor */
    put(c, 0x15, 640 & 0xff);            /* base memory, KiB */
    put(c, 0x16, 640 >> 8);
    uint64_t ext = ram_bytes > (1 << 20) ? (ram_bytes - (1 << 20)) >> 10 : 0;   /* KiB above 1M */
    if (ext > 0xfc00)
        ext = 0xfc00;
    put(c, 0x17, (uint8_t)ext);
    put(c, 0x18, (uint8_t)(ext >> 8));
    put(c, 0x30, (uint8_t)ext);
    put(c, 0x31, (uint8_t)(ext >> 8));
    uint64_t below4g = MIN(ram_bytes, 0xe0000000ULL);
    uint64_t over16 = below4g > (16 << 20) ? (below4g - (16 << 20)) >> 16 : 0;    /* 64 KiB units */
    if (over16 > 0xffff)
        over16 = 0xffff;
    put(c, 0x34, (uint8_t)over16);
    put(c, 0x35, (uint8_t)(over16 >> 8));
    uint64_t above4g = ram_bytes > below4g ? (ram_bytes - below4g) >> 16 : 0;
    put(c, 0x5b, (uint8_t)above4g);
    put(c, 0x5c, (uint8_t)(above4g >> 8));
    put(c, 0x5d, (uint8_t)(above4g >> 16));
    put(c, 0x5f, (uint8_t)(nr_vcpus - 1));
    put(c, 0x3d, 0x02);                  /* boot order: hard disk first (QEMU's "c") */
    put(c, 0x38, 0x00);
    put(c, 0x32, 0x20);                  /* century, BCD */
}

static uint8_t to_bcd(unsigned v)
{
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

/* The clock registers from seconds since 1970 (UTC). */
static uint8_t clock_reg(const struct hvm_rtc *c, unsigned idx)
{
    uint64_t t = wallclock_now_sec();
    unsigned sec = t % 60, min = (t / 60) % 60, hour = (t / 3600) % 24;
    uint64_t days = t / 86400;
    unsigned wday = (unsigned)((days + 4) % 7) + 1;      /* 1970-01-01 was a Thursday; 1 = Sunday */
    /* civil date from days (Howard Hinnant's algorithm) */
    int64_t z = (int64_t)days + 719468;
    int64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned mday = doy - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    unsigned year = (unsigned)(yoe + era * 400) + (month <= 2);
    uint8_t b = c->nvram[REG_B];
    unsigned v;
    bool pm = false;
    switch (idx) {
    case 0x00: v = sec; break;
    case 0x02: v = min; break;
    case 0x04:
        v = hour;
        if (!(b & B_24H)) {
            pm = hour >= 12;
            v = hour % 12 ? hour % 12 : 12;
        }
        break;
    case 0x06: v = wday; break;
    case 0x07: v = mday; break;
    case 0x08: v = month; break;
    case 0x09: v = year % 100; break;
    default: v = year / 100; break;                       /* 0x32: century */
    }
    uint8_t r = (b & B_BIN) ? (uint8_t)v : to_bcd(v);
    return pm ? (uint8_t)(r | 0x80) : r;
}

static bool is_clock(unsigned idx)
{
    return idx == 0 || idx == 2 || idx == 4 || (idx >= 6 && idx <= 9) || idx == 0x32;
}

bool hvm_rtc_port(struct vcpu *v, unsigned port, unsigned size, bool in, uint32_t *val)
{
    struct domain *d = v->domain;
    if (!d->arch.hvm.firmware || (port != 0x70 && port != 0x71) || size != 1)
        return false;
    struct hvm_rtc *c = &d->arch.hvm.rtc;
    if (port == 0x70) {
        if (in)
            *val = 0xff;                             /* the index port reads nothing back */
        else
            c->index = (uint8_t)*val;            /* bit 7: the NMI mask, kept */
        return true;
    }
    unsigned idx = c->index & 0x7f;
    if (in) {
        if (is_clock(idx))
            *val = clock_reg(c, idx);
        else if (idx == REG_C) {
            *val = c->nvram[REG_C];
            c->nvram[REG_C] = 0;                 /* read clears the flags */
        } else
            *val = c->nvram[idx];
        return true;
    }
    uint8_t b = (uint8_t)*val;
    if (is_clock(idx) || idx == REG_C || idx == REG_D)
        return true;                             /* the host's time; C and D read-only */
    if (idx == REG_A)
        b &= 0x7f;                               /* UIP is read-only */
    c->nvram[idx] = b;
    return true;
}
