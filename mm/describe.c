/*
 * describe.c - the describers of vmm_register_describer (mm/describe.h):
 * a few slots of (range, name, function), kept across vmm_reset (a layer
 * registers once).
 *
 * Owns the slots.  Calls lock.c (mm_lock around the slots) and log.c.
 */
#include "describe.h"
#include "lock.h"
#include "log.h"

#define DESCRIBERS 4
static struct {
    vaddr_t lo, hi;
    const char *name;
    vmm_describer_t fn;
} describers[DESCRIBERS];

int vmm_register_describer(vaddr_t lo, vaddr_t hi, const char *name, vmm_describer_t fn)
{
    if (!fn || lo > hi) {
        mm_report("vmm_register_describer: 0x%08lx: %s", (unsigned long)lo,
                  fn ? "range ends before it starts" : "NULL function");
        return -1;
    }
    glue_irqflags_t f = mm_lock();
    int slot = -1;
    for (unsigned i = 0; i < DESCRIBERS && slot < 0; i++) {
        if (describers[i].fn == fn)
            slot = (int)i; /* re-registering replaces its range */
    }
    for (unsigned i = 0; i < DESCRIBERS && slot < 0; i++) {
        if (!describers[i].fn)
            slot = (int)i;
    }
    if (slot >= 0) {
        describers[slot].lo = lo;
        describers[slot].hi = hi;
        describers[slot].name = name;
        describers[slot].fn = fn;
    }
    mm_unlock(f);
    if (slot < 0)
        mm_report("vmm_register_describer: 0x%08lx: all %u describer slots in use",
                  (unsigned long)lo, DESCRIBERS);
    return slot < 0 ? -1 : 0;
}

void vmm_unregister_describer(vmm_describer_t fn)
{
    glue_irqflags_t f = mm_lock();
    for (unsigned i = 0; i < DESCRIBERS; i++) {
        if (describers[i].fn == fn)
            describers[i].fn = NULL;
    }
    mm_unlock(f);
}

const char *describe_range(vaddr_t a)
{
    static char text[256];
    static int asking; /* a describer's own vmm_describe: not again (recursion, `text`) */
    const char *said = NULL;
    /* a fault inside the VMM's or the PMM's lock: the describers (mm_lock) are out of order */
    if (!mm_lock_may_take())
        return NULL;
    glue_irqflags_t f = mm_lock(); /* another CPU's (un)register waits for the call */
    for (unsigned i = 0; i < DESCRIBERS && !asking; i++) {
        if (describers[i].fn && a >= describers[i].lo && a <= describers[i].hi) {
            asking = 1;
            said = describers[i].fn(a, text, sizeof(text)) ? text : describers[i].name;
            asking = 0;
            break;
        }
    }
    mm_unlock(f);
    return said;
}
