/*
 * A 64 KiB test firmware for a type=hvm domain (docs/hvm.md, "HVM from
 * firmware"): the hypervisor's RTC/CMOS, PICs and PIT as firmware meets
 * them, in real mode from the reset vector.  It prints on port 0xe9 and
 * checks: the CMOS bytes the builder filled for mem=32M (base and
 * extended memory, memory above 16 MiB, one CPU, register D), a BCD clock,
 * NVRAM kept and register D read-only; the PICs initialised (ICW1-4) with
 * the mask read back; the PIT's counter 0 in mode 2 at 1 kHz with its
 * latched count in range, 20 IRQ0s through the PIC into its handler while
 * it sleeps in HLT, each ended with an EOI (ISR empty after); IRQ0
 * masked: no interrupt for a while; counter 2 in mode 0 behind port
 * 0x61's gate, its output (bit 5) low, then high; the ACPI PM timer (24
 * bits, 32-bit reads only), TMR_STS in PM1a_STS when its bit 23 changes
 * and cleared by a 1, and with TMR_EN the SCI on IRQ9 in HLT; with a device model
 * (COM1 answers), three THR-empty interrupts of COM1 on IRQ4, which the
 * device model raises with XEN_DMOP_set_isa_irq_level; then a triple
 * fault, which resets (reboots) the domain.  A failed check prints its line and
 * halts with interrupts off (the domain powers off).
 */
        .code16
        .section .text, "ax"
        .globl _start
_start:
        cli
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        movw    $0x7000, %sp
        movw    $msg_hello, %si
        call    puts

        /* ---- CMOS, as the builder filled it for mem=32M */
        movb    $0x15, %al              /* base memory 640 KiB = 0x0280 */
        call    cmos_rd
        cmpb    $0x80, %al
        jne     fail_cmos
        movb    $0x16, %al
        call    cmos_rd
        cmpb    $0x02, %al
        jne     fail_cmos
        movb    $0x30, %al              /* extended: 31 MiB = 0x7c00 KiB */
        call    cmos_rd
        cmpb    $0x00, %al
        jne     fail_cmos
        movb    $0x31, %al
        call    cmos_rd
        cmpb    $0x7c, %al
        jne     fail_cmos
        movb    $0x34, %al              /* above 16 MiB: 16 MiB = 0x100 x 64 KiB */
        call    cmos_rd
        cmpb    $0x00, %al
        jne     fail_cmos
        movb    $0x35, %al
        call    cmos_rd
        cmpb    $0x01, %al
        jne     fail_cmos
        movb    $0x5f, %al              /* CPUs - 1 */
        call    cmos_rd
        cmpb    $0x00, %al
        jne     fail_cmos
        movb    $0x0d, %al              /* register D: valid */
        call    cmos_rd
        cmpb    $0x80, %al
        jne     fail_cmos
        movb    $0x00, %al              /* seconds: BCD 00-59 */
        call    cmos_rd
        movb    %al, %ah
        andb    $0x0f, %ah
        cmpb    $9, %ah
        ja      fail_cmos
        cmpb    $0x59, %al
        ja      fail_cmos
        movb    $0x40, %al              /* NVRAM keeps a byte */
        outb    %al, $0x70
        movb    $0xa5, %al
        outb    %al, $0x71
        movb    $0x40, %al
        call    cmos_rd
        cmpb    $0xa5, %al
        jne     fail_cmos
        movb    $0x0d, %al              /* register D is read-only */
        outb    %al, $0x70
        xorb    %al, %al
        outb    %al, $0x71
        movb    $0x0d, %al
        call    cmos_rd
        cmpb    $0x80, %al
        jne     fail_cmos
        movw    $msg_cmos, %si
        call    puts

        /* ---- the PICs: vectors 0x08 and 0x70, only IRQ0 unmasked */
        movb    $0x11, %al
        outb    %al, $0x20
        outb    %al, $0xa0
        movb    $0x08, %al
        outb    %al, $0x21
        movb    $0x70, %al
        outb    %al, $0xa1
        movb    $0x04, %al
        outb    %al, $0x21
        movb    $0x02, %al
        outb    %al, $0xa1
        movb    $0x01, %al
        outb    %al, $0x21
        outb    %al, $0xa1
        movb    $0xfe, %al
        outb    %al, $0x21
        movb    $0xff, %al
        outb    %al, $0xa1
        inb     $0x21, %al
        cmpb    $0xfe, %al
        jne     fail_pic
        /* IVT entry 8: irq0 at F000:irq0 */
        movw    $irq0, 0x20
        movw    $0xf000, 0x22
        movw    $0, 0x500               /* the tick count */

        /* ---- PIT counter 0, mode 2, 1193 (1 ms) */
        movb    $0x34, %al
        outb    %al, $0x43
        movb    $0xa9, %al
        outb    %al, $0x40
        movb    $0x04, %al
        outb    %al, $0x40
        movb    $0x00, %al              /* latch counter 0 */
        outb    %al, $0x43
        inb     $0x40, %al
        movb    %al, %bl
        inb     $0x40, %al
        movb    %al, %bh
        cmpw    $1193, %bx
        ja      fail_pit
        cmpw    $0, %bx
        je      fail_pit
        movw    $msg_pit, %si
        call    puts

        /* ---- 20 IRQ0s in HLT */
        sti
1:      hlt
        cmpw    $20, 0x500
        jb      1b
        cli
        movb    $0x0b, %al              /* OCW3: read ISR */
        outb    %al, $0x20
        inb     $0x20, %al
        cmpb    $0, %al
        jne     fail_pic
        movb    $0x0a, %al              /* back to IRR */
        outb    %al, $0x20
        movw    $msg_ticks, %si
        call    puts

        /* ---- IRQ0 masked: no interrupt while it spins 3 ms and more */
        movb    $0xff, %al
        outb    %al, $0x21
        movw    0x500, %dx
        sti
        movw    $0x4000, %cx
2:      inb     $0x61, %al              /* each IN is an exit: time passes */
        loop    2b
        cli
        cmpw    0x500, %dx
        jne     fail_mask
        movw    $msg_masked, %si
        call    puts

        /* ---- counter 2, mode 0, behind port 0x61's gate */
        inb     $0x61, %al
        andb    $0xfc, %al
        orb     $0x01, %al              /* gate on, speaker off */
        outb    %al, $0x61
        movb    $0xb0, %al              /* counter 2, LSB then MSB, mode 0 */
        outb    %al, $0x43
        movb    $0x00, %al
        outb    %al, $0x42
        movb    $0x10, %al              /* 0x1000: about 3.4 ms */
        outb    %al, $0x42
        inb     $0x61, %al
        testb   $0x20, %al
        jnz     fail_pit2               /* not there yet */
        movw    $0xffff, %cx
3:      inb     $0x61, %al
        testb   $0x20, %al
        jnz     4f
        loop    3b
        jmp     fail_pit2
4:      movw    $msg_pit2, %si
        call    puts

        /* ---- the ACPI PM timer (0xb008): 24 bits, counting, read with
         * 32-bit IN only (a 16-bit read gets all ones) */
        movw    $0xb008, %dx
        inl     %dx, %eax
        movl    %eax, %ebx
        testl   $0xff000000, %eax
        jnz     fail_pm
        movw    $0x100, %cx
7:      inb     $0x61, %al              /* time passes */
        loop    7b
        inl     %dx, %eax
        cmpl    %ebx, %eax
        je      fail_pm
        testl   $0xff000000, %eax
        jnz     fail_pm
        inw     %dx, %ax
        cmpw    $0xffff, %ax
        jne     fail_pm
        /* PM1a_STS (0xb000): TMR_STS cleared by a 1, set again when the
         * count's bit 23 changes: within 2^23 ticks (2.3 s) */
        movw    $0xb000, %dx
        movw    $0xffff, %ax
        outw    %ax, %dx
        inw     %dx, %ax
        testw   $1, %ax
        jz      11f
        movw    $1, %ax                 /* bit 23 changed just then: once more */
        outw    %ax, %dx
        inw     %dx, %ax
        testw   $1, %ax
        jnz     fail_pm
11:
8:      movw    $0xb000, %dx
        inw     %dx, %ax
        testw   $1, %ax
        jnz     9f
        movw    $0xb008, %dx
        inl     %dx, %eax
        subl    %ebx, %eax
        andl    $0xffffff, %eax
        cmpl    $0x900000, %eax
        jb      8b
        jmp     fail_pm                 /* bit 23 changed, TMR_STS did not come */
9:      movw    $1, %ax
        outw    %ax, %dx                /* a 1 clears it */
        inw     %dx, %ax
        testw   $1, %ax
        jnz     fail_pm
        movw    $msg_pm, %si
        call    puts
        /* TMR_EN (PM1a_EN, 0xb002): the SCI on IRQ9 (the slave's IRQ1,
         * vector 0x71) when bit 23 next changes, while it sleeps in HLT */
        movw    $sci, 0x1c4
        movw    $0xf000, 0x1c6
        movw    $0, 0x504
        movb    $0xfb, %al              /* the master: only the cascade */
        outb    %al, $0x21
        movb    $0xfd, %al              /* the slave: only IRQ9 */
        outb    %al, $0xa1
        movw    $0xb002, %dx
        movw    $1, %ax
        outw    %ax, %dx
        inw     %dx, %ax
        cmpw    $1, %ax
        jne     fail_pm
        sti
10:     hlt
        cmpw    $0, 0x504
        je      10b
        cli
        movw    $0xb002, %dx
        xorw    %ax, %ax
        outw    %ax, %dx
        movb    $0xff, %al
        outb    %al, $0xa1
        outb    %al, $0x21
        movw    $msg_sci, %si
        call    puts

        /* ---- with a device model: COM1's THR-empty interrupt on IRQ4
         * (vector 0x0c), raised by the device model with
         * XEN_DMOP_set_isa_irq_level: three of them, each ended by
         * reading IIR (the source goes) and an EOI, then a THR write
         * (empty again: the next). */
        movw    $0x3fd, %dx
        inb     %dx, %al
        cmpb    $0x60, %al
        jne     5f                      /* no UART: no device model */
        movw    $irq4, 0x30
        movw    $0xf000, 0x32
        movw    $0, 0x502
        movb    $0xef, %al              /* unmask IRQ4 only */
        outb    %al, $0x21
        movw    $0x3fc, %dx             /* MCR: OUT2 (the IRQ gate) */
        movb    $0x08, %al
        outb    %al, %dx
        movw    $0x3f9, %dx             /* IER: THR empty */
        movb    $0x02, %al
        sti
        outb    %al, %dx
6:      hlt
        cmpw    $3, 0x502
        jb      6b
        cli
        movw    $0x3f9, %dx
        xorb    %al, %al
        outb    %al, %dx
        movw    $msg_irq4, %si
        call    puts
        /* the device model's PM1a_CNT (0xb004): SCI_EN reads 1; SLP_EN
         * with SLP_TYP 5, a state its DSDT does not offer, is refused
         * (SLP_TYP kept, SLP_EN reads 0, the domain runs on) */
        movw    $0xb004, %dx
        inw     %dx, %ax
        cmpw    $1, %ax
        jne     fail_pm1cnt
        movw    $0x3400, %ax
        outw    %ax, %dx
        inw     %dx, %ax
        cmpw    $0x1401, %ax
        jne     fail_pm1cnt
        xorw    %ax, %ax
        outw    %ax, %dx
        movw    $msg_pm1cnt, %si
        call    puts
5:
        /* ---- a triple fault: a reset */
        movw    $msg_triple, %si
        call    puts
        lidt    %cs:idt_none
        int3
        jmp     fail_triple

irq0:
        pushw   %ax
        incw    %ss:0x500
        movb    $0x20, %al              /* non-specific EOI */
        outb    %al, $0x20
        popw    %ax
        iret

sci:
        pushw   %ax
        pushw   %dx
        movw    $0xb000, %dx            /* TMR_STS is why: clear it (the SCI goes) */
        inw     %dx, %ax
        testw   $1, %ax
        jz      fail_pm
        movw    $1, %ax
        outw    %ax, %dx
        incw    %ss:0x504
        movb    $0x20, %al              /* EOI: the slave, then the master */
        outb    %al, $0xa0
        outb    %al, $0x20
        popw    %dx
        popw    %ax
        iret

irq4:
        pushw   %ax
        pushw   %dx
        movw    $0x3fa, %dx             /* IIR: THR empty, and it goes */
        inb     %dx, %al
        cmpb    $0x02, %al
        jne     fail_irq4
        incw    %ss:0x502
        movb    $0x20, %al
        outb    %al, $0x20
        cmpw    $3, %ss:0x502
        jae     1f
        movw    $0x3f8, %dx             /* a THR write: empty again, the next one */
        movb    $0x2e, %al
        outb    %al, %dx
1:      popw    %dx
        popw    %ax
        iret

/* CMOS register %al -> %al */
cmos_rd:
        outb    %al, $0x70
        inb     $0x71, %al
        ret

/* the string at %cs:%si to port 0xe9 */
puts:
        movb    %cs:(%si), %al
        testb   %al, %al
        jz      1f
        outb    %al, $0xe9
        incw    %si
        jmp     puts
1:      ret

fail_cmos:
        movw    $msg_fail_cmos, %si
        jmp     fail
fail_pic:
        movw    $msg_fail_pic, %si
        jmp     fail
fail_pit:
        movw    $msg_fail_pit, %si
        jmp     fail
fail_mask:
        movw    $msg_fail_mask, %si
        jmp     fail
fail_pit2:
        movw    $msg_fail_pit2, %si
        jmp     fail
fail_irq4:
        movw    $msg_fail_irq4, %si
        jmp     fail
fail_pm:
        movw    $msg_fail_pm, %si
        jmp     fail
fail_pm1cnt:
        movw    $msg_fail_pm1cnt, %si
        jmp     fail
fail_triple:
        movw    $msg_fail_triple, %si
fail:
        call    puts
        cli
        hlt

idt_none:
        .word   0
        .long   0

msg_hello:       .asciz "hvm-fw: real mode at the reset vector\n"
msg_cmos:        .asciz "hvm-fw: CMOS: memory, CPUs, clock and NVRAM as expected\n"
msg_pit:         .asciz "hvm-fw: PIT counter 0 counts down from 1193\n"
msg_ticks:       .asciz "hvm-fw: 20 timer interrupts through the PIC, ISR empty after EOI\n"
msg_masked:      .asciz "hvm-fw: IRQ0 masked: no interrupt\n"
msg_pit2:        .asciz "hvm-fw: PIT counter 2 reached 0 behind port 0x61\n"
msg_pm:          .asciz "hvm-fw: ACPI PM timer counts (24 bits, 32-bit reads), TMR_STS when bit 23 changes\n"
msg_sci:         .asciz "hvm-fw: the SCI on IRQ9 with TMR_EN, in HLT\n"
msg_pm1cnt:      .asciz "hvm-fw: PM1a_CNT: SCI_EN set, a sleep state the DSDT lacks refused\n"
msg_fail_pm1cnt: .asciz "hvm-fw: FAIL the device model's PM1a_CNT\n"
msg_fail_pm:     .asciz "hvm-fw: FAIL the ACPI PM timer or PM1a event block\n"
msg_irq4:        .asciz "hvm-fw: 3 COM1 interrupts from the device model on IRQ4\n"
msg_triple:      .asciz "hvm-fw: a triple fault now\n"
msg_fail_cmos:   .asciz "hvm-fw: FAIL a CMOS byte\n"
msg_fail_pic:    .asciz "hvm-fw: FAIL the PIC\n"
msg_fail_pit:    .asciz "hvm-fw: FAIL the PIT counter 0 latch\n"
msg_fail_mask:   .asciz "hvm-fw: FAIL an interrupt while IRQ0 was masked\n"
msg_fail_pit2:   .asciz "hvm-fw: FAIL the PIT counter 2 output\n"
msg_fail_irq4:   .asciz "hvm-fw: FAIL IIR in the IRQ4 handler\n"
msg_fail_triple: .asciz "hvm-fw: FAIL survived a triple fault\n"

        .section .reset, "ax"
        ljmp    $0xf000, $_start
        .fill   11, 1, 0xf4
