# ----------------------------------------------------------------- embed ----
# The embedding test (issue 11): mm/ in a second, minimal kernel of our own
# (tests/embed/) that has its own start-up, paging, memset & co. and kfree(char *),
# as a kernel that embeds mm/ has (tools/embed-check.sh):
#
#   make test-embed    the suite "embed" of make test: the files README.md's embedding
#                      section lists, copied into an empty build/embed/<compiler>/ with the
#                      test kernel; built there with clang and with gcc (-nostdlib, no
#                      libgcc, mm/vmm.c left out); booted under QEMU (TCG, -smp 2,sockets=2,
#                      -m 64M and 128M): a verifying stress of kmalloc, kmem_cache, vmalloc,
#                      kernel stacks and the PMM on both CPUs, a TLB shootdown seen from the
#                      other CPU, then heap_check, pmm_check, vmalloc_check and
#                      kmem_cache_check all 0; prints the glue's line count
#
# EMBED_MEMS and EMBED_COMPILERS narrow the matrix (e.g. make test-embed EMBED_COMPILERS=clang).
.PHONY: test-embed

EMBED_MEMS      ?= 64M 128M
EMBED_COMPILERS ?= clang gcc

TEST_SUITES += embed
test-embed:
	@CLANG="$(CLANG)" QEMU="$(QEMU)" EMBED_MEMS="$(EMBED_MEMS)" EMBED_COMPILERS="$(EMBED_COMPILERS)" \
	    tools/embed-check.sh
