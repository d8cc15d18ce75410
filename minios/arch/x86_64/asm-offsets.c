/* asm-offsets.c: constants for minios's assembly, taken from C headers (compiled to asm-offsets.h). */
#include <stddef.h>
#include <minios/hypercall.h>
#include <minios/traps.h>
#include "traps-internal.h"

/*
 * Compiled with -S only: each DEFINE leaves a line "@ASMOFF@ NAME value"
 * in the assembly output, which minios.mk turns into "#define NAME value".
 */
#define DEFINE(name, value) \
    __asm__ volatile(".ascii \"@ASMOFF@ " #name " %c0\"" : : "i"(value))

void asm_offsets(void);

void asm_offsets(void)
{
    DEFINE(ASM_IRET_STUB, __HYPERVISOR_iret * MINIOS_HYPERCALL_STUB_SIZE);
    DEFINE(ASM_VEC_EVENT, MINIOS_VEC_EVENT);
    DEFINE(ASM_VEC_FAILSAFE, MINIOS_VEC_FAILSAFE);
    DEFINE(ASM_VEC_NM, 7);
    DEFINE(ASM_FRAME_SIZE, sizeof(struct minios_trap_frame));
    DEFINE(ASM_FRAME_VECTOR, offsetof(struct minios_trap_frame, vector));
}
