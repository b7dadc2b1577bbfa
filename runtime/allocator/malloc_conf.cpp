// jemalloc's options, compiled into every executable (CMakeLists.txt links this file
// when SWITCHYARD_JEMALLOC is on; jemalloc reads the symbol at start-up, and the
// MALLOC_CONF environment variable still overrides it).
//
// narenas:1 — one arena instead of jemalloc's four per CPU. Run actors are created on
// one scheduler thread and freed on another, so with several arenas each keeps its own
// partly used pages; bench_swarm's RSS per in-flight run was 4,109-4,332 bytes with the
// default and 3,852-3,935 with one arena, throughput unchanged within its noise. The
// per-thread caches still serve most allocations without taking the arena's lock.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface
const char* malloc_conf = "narenas:1";
}
