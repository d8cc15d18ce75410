/* images.S: the kernel images VM.start can build for now (docs/agent.md),
 * embedded whole: apps/hello's ELF file and apps/httpd's stripped of its
 * symbols (agent.mk makes this object depend on both). */
    .section .rodata
    .balign 4096
    .globl hello_image, hello_image_end
hello_image:
    .incbin "build/apps/hello.elf"
hello_image_end:
    .balign 4096
    .globl httpd_image, httpd_image_end
httpd_image:
    .incbin "build/stubdoms/agent-httpd.elf"
httpd_image_end:
