/* images.S: the kernel images VM.start can build for now (docs/agent.md),
 * embedded whole: apps/hello's ELF file (agent.mk makes this object depend
 * on build/apps/hello.elf). */
    .section .rodata
    .balign 4096
    .globl hello_image, hello_image_end
hello_image:
    .incbin "build/apps/hello.elf"
hello_image_end:
