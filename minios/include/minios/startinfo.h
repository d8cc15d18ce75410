/* startinfo.h: what the domain builder told minios at start of day. */
#ifndef MINIOS_STARTINFO_H
#define MINIOS_STARTINFO_H

#include <minios/hypercall.h>

/* The start_info page the hypervisor passed in rsi at _start (virtual
 * address, valid for the domain's whole life). */
extern start_info_t *minios_start_info;

/* argv[0] of main(): the appliance's name, set by x86_64-minios-cc from
 * the output file name, "minios" if linked some other way. */
extern const char minios_app_name[];

#endif /* MINIOS_STARTINFO_H */
