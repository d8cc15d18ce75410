/* The MMIO dispatcher's table (hv/hvm/mmio_table.c): ranges found by
 * every access wholly inside them, nothing for an access outside or
 * straddling one, and each refusal of mmio_table_add. */
#include "unit.h"
#include "../../hv/hvm/mmio_table.h"
#include <xen/errno.h>

int main(void)
{
    static struct mmio_table t;
    int a, b, c;
    EXPECT(mmio_table_add(&t, 0xfee00000, 0x1000, &a) == 0);
    EXPECT(mmio_table_add(&t, 0xfec00000, 0x20, &b) == 0);
    EXPECT(mmio_table_find(&t, 0xfee00000, 4) == &a);
    EXPECT(mmio_table_find(&t, 0xfee00ff8, 8) == &a);
    EXPECT(mmio_table_find(&t, 0xfee00ffc, 8) == NULL);          /* straddles the end */
    EXPECT(mmio_table_find(&t, 0xfedffffc, 8) == NULL);          /* straddles the start */
    EXPECT(mmio_table_find(&t, 0xfee01000, 1) == NULL);
    EXPECT(mmio_table_find(&t, 0xfec0001f, 1) == &b);
    EXPECT(mmio_table_find(&t, ~0ULL, 8) == NULL);               /* no wrap */
    /* Refusals. */
    EXPECT(mmio_table_add(&t, 0x1000, 0, &c) == -XEN_EINVAL);      /* empty */
    EXPECT(mmio_table_add(&t, ~0ULL - 1, 4, &c) == -XEN_EINVAL);   /* wraps */
    EXPECT(mmio_table_add(&t, 0xfee00800, 0x1000, &c) == -XEN_EINVAL);  /* overlaps */
    EXPECT(mmio_table_add(&t, 0xfedff000, 0x1001, &c) == -XEN_EINVAL);  /* overlaps one byte */
    EXPECT(mmio_table_add(&t, 0x2000, 0x10, NULL) == -XEN_EINVAL); /* no handler */
    EXPECT(mmio_table_add(&t, 0xfedff000, 0x1000, &c) == 0);       /* adjacent: fine */
    EXPECT(mmio_table_find(&t, 0xfedffffc, 4) == &c);
    for (unsigned i = 3; i < MMIO_TABLE_MAX; i++)
        EXPECT(mmio_table_add(&t, 0x100000ULL * i, 0x1000, &c) == 0);
    EXPECT(mmio_table_add(&t, 0x7000000, 0x1000, &c) == -XEN_ENOSPC);  /* full */
    EXPECT(t.n == MMIO_TABLE_MAX);
    UNIT_DONE();
}
