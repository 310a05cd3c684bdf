# nginx.sh again, with jemalloc preloaded after the shim as nginx's
# allocator (what `zcshim --jemalloc` does): every download intact, the
# guard at work, and jemalloc really mapped in every nginx process.
export SYSTEM_JEMALLOC=1
exec bash "${ITEST_SRC:?set by make check}/../system/nginx.sh"
