# Third-party dependencies, all from Debian 12 packages (scripts/setup installs them).

find_package(Threads REQUIRED)

# CAF 0.17 ships neither a CMake config nor a .pc file: wrap it ourselves.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
add_library(caf::core INTERFACE IMPORTED)
target_include_directories(caf::core INTERFACE ${CAF_INCLUDE_DIR})
target_link_libraries(caf::core INTERFACE ${CAF_CORE_LIBRARY} Threads::Threads)
add_library(caf::io INTERFACE IMPORTED)
target_link_libraries(caf::io INTERFACE ${CAF_IO_LIBRARY} caf::core)

find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(Catch2 2 CONFIG REQUIRED)

# RocksDB 7.8: the per-run checkpoint store (runtime/checkpoint_store). The shared
# library keeps binaries small; RocksDB::rocksdb is the 9 MB static archive.
find_package(RocksDB CONFIG REQUIRED)
