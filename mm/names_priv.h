/*
 * names_priv.h - MM_PREFIX for the names mm/ files share among themselves
 * (include/mm_names.h renames the public API and says why).  Every mm/ header
 * includes it, so no kernel file ever sees these macros.
 */
#ifndef MM_NAMES_PRIV_H
#define MM_NAMES_PRIV_H

#include "mm_names.h"

#ifdef MM_PREFIX
#define bmap_check                  mm_bmap_check
#define bmap_clear                  mm_bmap_clear
#define bmap_count                  mm_bmap_count
#define bmap_cover                  mm_bmap_cover
#define bmap_first_start            mm_bmap_first_start
#define bmap_init_static            mm_bmap_init_static
#define bmap_init_window            mm_bmap_init_window
#define bmap_set                    mm_bmap_set
#define bmap_start_at_or_below      mm_bmap_start_at_or_below
#define bmap_uncover                mm_bmap_uncover
#define dbg_arm                     mm_dbg_arm
#define dbg_check_live              mm_dbg_check_live
#define dbg_check_quarantine        mm_dbg_check_quarantine
#define dbg_dump_state              mm_dbg_dump_state
#define dbg_evict                   mm_dbg_evict
#define dbg_free                    mm_dbg_free
#define dbg_get_stats               mm_dbg_get_stats
#define dbg_on                      mm_dbg_on
#define dbg_profile                 mm_dbg_profile
#define dbg_quarantined             mm_dbg_quarantined
#define dbg_reset                   mm_dbg_reset
#define dbg_site                    mm_dbg_site
#define dbg_user_size               mm_dbg_user_size
#define describe_range              mm_describe_range
#define heap_alloc_aligned          mm_heap_alloc_aligned
#define heap_alloc_block            mm_heap_alloc_block
#define heap_api_swap               mm_heap_api_swap
#define heap_block_merge_next       mm_heap_block_merge_next
#define heap_block_problem          mm_heap_block_problem
#define heap_block_rebuild          mm_heap_block_rebuild
#define heap_block_release          mm_heap_block_release
#define heap_block_set_state        mm_heap_block_set_state
#define heap_block_split            mm_heap_block_split
#define heap_block_trim             mm_heap_block_trim
#define heap_checked_block          mm_heap_checked_block
#define heap_find_fit               mm_heap_find_fit
#define heap_free_add               mm_heap_free_add
#define heap_free_block             mm_heap_free_block
#define heap_free_del               mm_heap_free_del
#define heap_free_entry_ok          mm_heap_free_entry_ok
#define heap_freelist_rebuild       mm_heap_freelist_rebuild
#define heap_freelist_scan          mm_heap_freelist_scan
#define heap_freelist_unlink        mm_heap_freelist_unlink
#define heap_grow                   mm_heap_grow
#define heap_growing_region         mm_heap_growing_region
#define heap_is_slab_block          mm_heap_is_slab_block
#define heap_largest_free           mm_heap_largest_free
#define heap_list_fit               mm_heap_list_fit
#define heap_list_of                mm_heap_list_of
#define heap_map_next               mm_heap_map_next
#define heap_map_prev               mm_heap_map_prev
#define heap_next_ok                mm_heap_next_ok
#define heap_page_node              mm_heap_page_node
#define heap_quick                  mm_heap_quick
#define heap_rebuild                mm_heap_rebuild
#define heap_region_add             mm_heap_region_add
#define heap_region_init_virtual    mm_heap_region_init_virtual
#define heap_region_last            mm_heap_region_last
#define heap_region_of              mm_heap_region_of
#define heap_region_reserve         mm_heap_region_reserve
#define heap_region_reset           mm_heap_region_reset
#define heap_rehome                 mm_heap_rehome
#define heap_release_block          mm_heap_release_block
#define heap_request_size           mm_heap_request_size
#define heap_shrink                 mm_heap_shrink
#define heap_size_class             mm_heap_size_class
#define heap_slab_bit               mm_heap_slab_bit
#define heap_slab_bit_set           mm_heap_slab_bit_set
#define heap_slab_page_alloc        mm_heap_slab_page_alloc
#define heap_slab_page_free         mm_heap_slab_page_free
#define heap_slab_page_next         mm_heap_slab_page_next
#define heap_slab_page_of           mm_heap_slab_page_of
#define heap_span_ok                mm_heap_span_ok
#define heap_span_repair            mm_heap_span_repair
#define heap_state                  mm_heap_state
#define heap_trim_locked            mm_heap_trim_locked
#define kmap_alloc_run              mm_kmap_alloc_run
#define kmap_alloc_run_node         mm_kmap_alloc_run_node
#define kmap_count                  mm_kmap_count
#define kmap_page                   mm_kmap_page
#define kmap_phys                   mm_kmap_phys
#define kmap_ready                  mm_kmap_ready
#define kmap_rehome                 mm_kmap_rehome
#define kmap_reset_range            mm_kmap_reset_range
#define kmap_unmap                  mm_kmap_unmap
#define kmap_unmap_run              mm_kmap_unmap_run
#define lz4_bound                   mm_lz4_bound
#define lz4_codec                   mm_lz4_codec
#define lz4_compress                mm_lz4_compress
#define lz4_decompress              mm_lz4_decompress
#define lz4_strerror                mm_lz4_strerror
#define mag_fork_child              mm_mag_fork_child
#define mag_give_flushed            mm_mag_give_flushed
#define mag_lock_all                mm_mag_lock_all
#define mag_take_early              mm_mag_take_early
#define mag_take_filled             mm_mag_take_filled
#define mag_unlock_all              mm_mag_unlock_all
#define pmm_block_release           mm_pmm_block_release
#define pmm_block_take              mm_pmm_block_take
#define pmm_cpu_node_locked         mm_pmm_cpu_node_locked
#define pmm_data                    mm_pmm_data
#define pmm_free_locked             mm_pmm_free_locked
#define pmm_lock                    mm_pmm_lock
#define pmm_lock_held               mm_pmm_lock_held
#define pmm_lock_holder             mm_pmm_lock_holder
#define pmm_node_has_block          mm_pmm_node_has_block
#define pmm_nodes                   mm_pmm_nodes
#define pmm_nodes_apply             mm_pmm_nodes_apply
#define pmm_pcp                     mm_pmm_pcp
#define pmm_pcp_alloc               mm_pmm_pcp_alloc
#define pmm_pcp_cpus_holding        mm_pmm_pcp_cpus_holding
#define pmm_pcp_drain_cpus          mm_pmm_pcp_drain_cpus
#define pmm_pcp_drain_locked        mm_pmm_pcp_drain_locked
#define pmm_pcp_free                mm_pmm_pcp_free
#define pmm_pcp_lock_all            mm_pmm_pcp_lock_all
#define pmm_pcp_reset_locked        mm_pmm_pcp_reset_locked
#define pmm_pcp_sum                 mm_pmm_pcp_sum
#define pmm_pcp_unlock_all          mm_pmm_pcp_unlock_all
#define pmm_run_release             mm_pmm_run_release
#define pmm_take_locked             mm_pmm_take_locked
#define pmm_unlock                  mm_pmm_unlock
#define pmm_wanted_node             mm_pmm_wanted_node
#define slab_all                    mm_slab_all
#define slab_arm_object             mm_slab_arm_object
#define slab_cache_alloc            mm_slab_cache_alloc
#define slab_cache_alloc_node       mm_slab_cache_alloc_node
#define slab_cache_init             mm_slab_cache_init
#define slab_cache_ok               mm_slab_cache_ok
#define slab_cache_shrink           mm_slab_cache_shrink
#define slab_cached_object          mm_slab_cached_object
#define slab_check_locked           mm_slab_check_locked
#define slab_cpu_calls              mm_slab_cpu_calls
#define slab_cpu_drain              mm_slab_cpu_drain
#define slab_desc_get               mm_slab_desc_get
#define slab_desc_of                mm_slab_desc_of
#define slab_describe               mm_slab_describe
#define slab_drain_quarantine       mm_slab_drain_quarantine
#define slab_enable                 mm_slab_enable
#define slab_kfree                  mm_slab_kfree
#define slab_kmalloc                mm_slab_kmalloc
#define slab_kmalloc_node           mm_slab_kmalloc_node
#define slab_list_push              mm_slab_list_push
#define slab_mag_fill               mm_slab_mag_fill
#define slab_mag_flush              mm_slab_mag_flush
#define slab_meta_reserve           mm_slab_meta_reserve
#define slab_meta_trim_locked       mm_slab_meta_trim_locked
#define slab_node_ok                mm_slab_node_ok
#define slab_nodes_sync             mm_slab_nodes_sync
#define slab_object_free            mm_slab_object_free
#define slab_object_of              mm_slab_object_of
#define slab_problem                mm_slab_problem
#define slab_quarantine_object      mm_slab_quarantine_object
#define slab_reap_locked            mm_slab_reap_locked
#define slab_relieve                mm_slab_relieve
#define slab_reset                  mm_slab_reset
#define slab_take_live              mm_slab_take_live
#define slab_totals                 mm_slab_totals
#define slab_usable                 mm_slab_usable
#define vmalloc_compressible_area   mm_vmalloc_compressible_area
#define vmalloc_pin_area            mm_vmalloc_pin_area
#define vmm_clear_accessed          mm_vmm_clear_accessed
#define vmm_data                    mm_vmm_data
#define vmm_lock                    mm_vmm_lock
#define vmm_lock_held               mm_vmm_lock_held
#define vmm_lock_holder             mm_vmm_lock_holder
#define vmm_swap_set                mm_vmm_swap_set
#define vmm_unlock                  mm_vmm_unlock
#define zstore_data                 mm_zstore_data
#define zswap_area_of               mm_zswap_area_of
#define zswap_data                  mm_zswap_data
#define zswap_frame_get             mm_zswap_frame_get
#define zswap_free_frames           mm_zswap_free_frames
#define zswap_ram_beyond_direct_map mm_zswap_ram_beyond_direct_map
#define zswap_transit_of            mm_zswap_transit_of
#define zswap_watermarks            mm_zswap_watermarks
#define zswap_window_make           mm_zswap_window_make
#define zswap_window_put            mm_zswap_window_put
#endif /* MM_PREFIX */

/*
 * mm/'s data the per-CPU fast path reads is mm/'s alone: no other module
 * (a shared library holding mm/, as the shim) may define it, so position-
 * independent code reaches it without the GOT (one instruction a read).
 */
#define MM_INTERNAL __attribute__((visibility("hidden")))

#endif /* MM_NAMES_PRIV_H */
