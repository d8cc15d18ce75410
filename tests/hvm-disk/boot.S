/*
 * A disk for an HVM guest (docs/hvm.md, tests/hvm-disk): an MBR boot
 * sector that SeaBIOS loads from the device model's IDE disk to 0x7c00,
 * and two sectors after it.  The boot code prints on port 0xe9, reads
 * sector 1 with INT 13h AH=02h (CHS) and sector 2 with AH=42h (LBA, a
 * disk address packet), prints each one's text, and halts with
 * interrupts off (the domain powers off).  A failed read prints its line
 * first.
 */
        .code16
        .section .text, "ax"
        .globl _start
_start:
        ljmp    $0, $1f                 /* CS:IP 0000:7cxx whatever SeaBIOS used */
1:      cli
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    $0x7c00, %sp
        sti
        movb    %dl, bootdrive
        movw    $msg_boot, %si
        call    puts
        movw    $0x0201, %ax            /* read 1 sector, CHS 0/0/2 = LBA 1 */
        movw    $0x0002, %cx
        xorb    %dh, %dh
        movb    bootdrive, %dl
        movw    $0x8000, %bx
        int     $0x13
        jc      fail_chs
        movw    $0x8000, %si
        call    puts
        movb    $0x42, %ah              /* extended read: LBA 2 */
        movb    bootdrive, %dl
        movw    $dap, %si
        int     $0x13
        jc      fail_lba
        movw    $0x8200, %si
        call    puts
        movw    $msg_done, %si
        call    puts
        cli
        hlt

fail_chs:
        movw    $msg_fail_chs, %si
        jmp     fail
fail_lba:
        movw    $msg_fail_lba, %si
fail:
        call    puts
        cli
        hlt

puts:
        lodsb
        testb   %al, %al
        jz      2f
        outb    %al, $0xe9
        jmp     puts
2:      ret

        .balign 4
dap:    .byte   16, 0                   /* size, reserved */
        .word   1                       /* sectors */
        .word   0x8200, 0               /* buffer offset, segment */
        .quad   2                       /* LBA */
bootdrive: .byte 0
msg_boot:     .asciz "hvm-disk: boot sector loaded by SeaBIOS from the device model's IDE disk\n"
msg_done:     .asciz "hvm-disk: both reads done, halting\n"
msg_fail_chs: .asciz "hvm-disk: FAIL INT 13h AH=02h\n"
msg_fail_lba: .asciz "hvm-disk: FAIL INT 13h AH=42h\n"

        .org    510
        .byte   0x55, 0xaa
sector1: .asciz "hvm-disk: sector 1 read with INT 13h AH=02h (CHS)\n"
        .org    1024
sector2: .asciz "hvm-disk: sector 2 read with INT 13h AH=42h (LBA)\n"
        .org    1536
