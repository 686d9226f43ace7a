/*
 * mm_names.h - the names mm/ exports, and the switch that prefixes them all (beyond the spec).
 *
 * A kernel that already owns kfree, memset, kmalloc... compiles every mm/ file,
 * and every file of its own that includes our headers, with -DMM_PREFIX.  Every
 * global symbol mm/ defines is then mm_<name>: the sources and the headers still
 * say kfree, the preprocessor makes it mm_kfree, the object files export
 * mm_kfree, and the kernel's own kfree is untouched.  Names that already begin
 * with mm_ (mm_last_error, mm_debug_set, mm_set_oom_reports...) stay as they
 * are.  The calls mm/ makes to its glue (glue_*, mm/glue.h) are never renamed:
 * those the kernel defines under their own names.
 *
 * This header renames the public API (every name include/ declares); the
 * names mm/ files share among themselves are renamed by mm/names_priv.h, so a
 * kernel's files see only these.  A kernel file that needs its own kfree and
 * ours includes our headers first, then #undef kfree, and calls mm_kfree by
 * that name (the declarations were already renamed).
 *
 * MM_HOSTED (the host tests, the benchmarks, the LD_PRELOAD shim) renames only
 * memset, memcpy, memmove and memcmp: libc owns those names there.
 *
 * Freestanding compilers may themselves emit calls to memset, memcpy, memmove
 * and memcmp (struct copies, zeroing): a kernel built with MM_PREFIX provides
 * those four under their plain names, as gcc and clang require of any
 * freestanding program.  make test-names checks all of this with nm.
 */
#ifndef MM_NAMES_H
#define MM_NAMES_H

#if defined(MM_PREFIX) || defined(MM_HOSTED)
#define memset  mm_memset
#define memcpy  mm_memcpy
#define memmove mm_memmove
#define memcmp  mm_memcmp
#endif

#ifdef MM_PREFIX
#define get_memory_stats            mm_get_memory_stats
#define heap_check                  mm_heap_check
#define heap_dump                   mm_heap_dump
#define heap_histogram              mm_heap_histogram
#define heap_init_virtual           mm_heap_init_virtual
#define heap_leaks                  mm_heap_leaks
#define heap_profile                mm_heap_profile
#define heap_reserve                mm_heap_reserve
#define heap_trace_dump             mm_heap_trace_dump
#define heap_trim                   mm_heap_trim
#define kcalloc                     mm_kcalloc
#define kcalloc_debug               mm_kcalloc_debug
#define kfree                       mm_kfree
#define kfree_debug                 mm_kfree_debug
#define kmalloc                     mm_kmalloc
#define kmalloc_aligned             mm_kmalloc_aligned
#define kmalloc_aligned_debug       mm_kmalloc_aligned_debug
#define kmalloc_debug               mm_kmalloc_debug
#define kmalloc_node                mm_kmalloc_node
#define kmalloc_node_debug          mm_kmalloc_node_debug
#define kmalloc_usable_size         mm_kmalloc_usable_size
#define kmem_cache_alloc            mm_kmem_cache_alloc
#define kmem_cache_alloc_debug      mm_kmem_cache_alloc_debug
#define kmem_cache_alloc_node       mm_kmem_cache_alloc_node
#define kmem_cache_alloc_node_debug mm_kmem_cache_alloc_node_debug
#define kmem_cache_check            mm_kmem_cache_check
#define kmem_cache_cpu_objects      mm_kmem_cache_cpu_objects
#define kmem_cache_create           mm_kmem_cache_create
#define kmem_cache_destroy          mm_kmem_cache_destroy
#define kmem_cache_dump             mm_kmem_cache_dump
#define kmem_cache_free             mm_kmem_cache_free
#define kmem_cache_free_debug       mm_kmem_cache_free_debug
#define kmem_cache_get_stats        mm_kmem_cache_get_stats
#define kmem_cache_node_stats       mm_kmem_cache_node_stats
#define kmem_cache_reap             mm_kmem_cache_reap
#define kmem_cache_shrink           mm_kmem_cache_shrink
#define krealloc                    mm_krealloc
#define krealloc_debug              mm_krealloc_debug
#define kstack_alloc                mm_kstack_alloc
#define kstack_free                 mm_kstack_free
#define memory_init                 mm_memory_init
#define memory_init_map             mm_memory_init_map
#define pmm_add_range               mm_pmm_add_range
#define pmm_alloc_owner_node        mm_pmm_alloc_owner_node
#define pmm_alloc_page              mm_pmm_alloc_page
#define pmm_alloc_page_node         mm_pmm_alloc_page_node
#define pmm_alloc_pages             mm_pmm_alloc_pages
#define pmm_alloc_pages_node        mm_pmm_alloc_pages_node
#define pmm_alloc_pages_owner       mm_pmm_alloc_pages_owner
#define pmm_check                   mm_pmm_check
#define pmm_cpu_node                mm_pmm_cpu_node
#define pmm_drain_cpu_lists         mm_pmm_drain_cpu_lists
#define pmm_dump                    mm_pmm_dump
#define pmm_free_held               mm_pmm_free_held
#define pmm_free_page               mm_pmm_free_page
#define pmm_free_pages              mm_pmm_free_pages
#define pmm_free_pages_owner        mm_pmm_free_pages_owner
#define pmm_get_node_stats          mm_pmm_get_node_stats
#define pmm_get_stats               mm_pmm_get_stats
#define pmm_init                    mm_pmm_init
#define pmm_init_layout             mm_pmm_init_layout
#define pmm_init_map                mm_pmm_init_map
#define pmm_layout_bytes            mm_pmm_layout_bytes
#define pmm_node_count              mm_pmm_node_count
#define pmm_nodes_generation        mm_pmm_nodes_generation
#define pmm_owner_name              mm_pmm_owner_name
#define pmm_page_node               mm_pmm_page_node
#define pmm_page_owner              mm_pmm_page_owner
#define pmm_page_state              mm_pmm_page_state
#define pmm_reclaim_deferred        mm_pmm_reclaim_deferred
#define pmm_reclaim_hold            mm_pmm_reclaim_hold
#define pmm_register_reclaim        mm_pmm_register_reclaim
#define pmm_set_nodes               mm_pmm_set_nodes
#define pmm_set_owner               mm_pmm_set_owner
#define pmm_set_pressure            mm_pmm_set_pressure
#define pmm_set_reachable           mm_pmm_set_reachable
#define pmm_tlb_counts              mm_pmm_tlb_counts
#define pmm_tlb_shootdown           mm_pmm_tlb_shootdown
#define pmm_tlb_shootdown_free      mm_pmm_tlb_shootdown_free
#define pmm_unregister_reclaim      mm_pmm_unregister_reclaim
#define vfree                       mm_vfree
#define vmalloc                     mm_vmalloc
#define vmalloc_at                  mm_vmalloc_at
#define vmalloc_check               mm_vmalloc_check
#define vmalloc_compressible        mm_vmalloc_compressible
#define vmalloc_describe            mm_vmalloc_describe
#define vmalloc_dump                mm_vmalloc_dump
#define vmalloc_get_stats           mm_vmalloc_get_stats
#define vmalloc_is_guard            mm_vmalloc_is_guard
#define vmalloc_node                mm_vmalloc_node
#define vmalloc_node_at             mm_vmalloc_node_at
#define vmalloc_reset               mm_vmalloc_reset
#define vmm_check                   mm_vmm_check
#define vmm_describe                mm_vmm_describe
#define vmm_dump                    mm_vmm_dump
#define vmm_get_entry               mm_vmm_get_entry
#define vmm_get_physical            mm_vmm_get_physical
#define vmm_get_stats               mm_vmm_get_stats
#define vmm_heap_map                mm_vmm_heap_map
#define vmm_heap_unmap              mm_vmm_heap_unmap
#define vmm_identity_end            mm_vmm_identity_end
#define vmm_init                    mm_vmm_init
#define vmm_map                     mm_vmm_map
#define vmm_map_page                mm_vmm_map_page
#define vmm_meta_map                mm_vmm_meta_map
#define vmm_meta_unmap              mm_vmm_meta_unmap
#define vmm_phys_to_virt            mm_vmm_phys_to_virt
#define vmm_register_describer      mm_vmm_register_describer
#define vmm_reset                   mm_vmm_reset
#define vmm_unmap_page              mm_vmm_unmap_page
#define vmm_unregister_describer    mm_vmm_unregister_describer
#define vmm_vmalloc_map             mm_vmm_vmalloc_map
#define vmm_vmalloc_unmap           mm_vmm_vmalloc_unmap
#define zstore_check                mm_zstore_check
#define zstore_decode               mm_zstore_decode
#define zstore_decoded              mm_zstore_decoded
#define zstore_dump                 mm_zstore_dump
#define zstore_encode               mm_zstore_encode
#define zstore_encoded_current      mm_zstore_encoded_current
#define zstore_fetch                mm_zstore_fetch
#define zstore_free                 mm_zstore_free
#define zstore_get                  mm_zstore_get
#define zstore_get_stats            mm_zstore_get_stats
#define zstore_live                 mm_zstore_live
#define zstore_peek                 mm_zstore_peek
#define zstore_put                  mm_zstore_put
#define zstore_put_encoded          mm_zstore_put_encoded
#define zstore_reset                mm_zstore_reset
#define zstore_set_codec            mm_zstore_set_codec
#define zstore_set_limit            mm_zstore_set_limit
#define zswap_check                 mm_zswap_check
#define zswap_dump                  mm_zswap_dump
#define zswap_fault                 mm_zswap_fault
#define zswap_get_stats             mm_zswap_get_stats
#define zswap_reclaim               mm_zswap_reclaim
#define zswap_reset                 mm_zswap_reset
#define zswap_set_watermarks        mm_zswap_set_watermarks
#endif /* MM_PREFIX */

#endif /* MM_NAMES_H */
