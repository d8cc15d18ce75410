/* Included first in every hypervisor file: all symbols are local to the
 * image, so position-independent code reaches them RIP-relative. */
#pragma GCC visibility push(hidden)
