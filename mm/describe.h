/*
 * describe.h - what an address is, asked of the layer that owns its range:
 * the registry behind vmm_register_describer (include/vmm.h).  Below both the
 * VMM, whose vmm_describe asks it, and vmalloc, which registers: so vmalloc
 * needs no VMM of ours, and the VMM calls nothing above it.
 */
#ifndef MM_DESCRIBE_H
#define MM_DESCRIBE_H

#include "names_priv.h"

#include "vmm.h"

/*
 * The registered describer's text for a (in a static buffer), or NULL if no
 * range holds a.  The describer runs with mm/'s lock held; a vmm_describe it
 * makes itself gets NULL here (no recursion, its buffer is not reused).
 */
const char *describe_range(vaddr_t a);

#endif /* MM_DESCRIBE_H */
