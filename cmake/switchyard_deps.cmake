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

# RE2: routing rules and their validation in the config loader.
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)

# liblinear (Debian liblinear-dev) ships neither a CMake config nor a .pc file.
find_path(LIBLINEAR_INCLUDE_DIR linear.h REQUIRED)
find_library(LIBLINEAR_LIBRARY linear REQUIRED)
add_library(liblinear::liblinear INTERFACE IMPORTED)
target_include_directories(liblinear::liblinear INTERFACE ${LIBLINEAR_INCLUDE_DIR})
target_link_libraries(liblinear::liblinear INTERFACE ${LIBLINEAR_LIBRARY})

# RocksDB 7.8: the per-run checkpoint store (runtime/checkpoint_store) and the
# response cache, which also hashes requests with OpenSSL's SHA-256. The shared RocksDB library keeps binaries small
# (the static archive adds 9 MB to each).
find_package(RocksDB CONFIG REQUIRED)

# HTTP (router/providers/http_client, stub/): Beast is header-only, Asio needs
# Boost.System; https goes through OpenSSL.
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(OpenSSL REQUIRED)

# LZ4 (liblz4-dev; RocksDB depends on it too): packs the decision traces a run holds
# (workflows/trace_packer). No CMake config: wrap it.
find_path(LZ4_INCLUDE_DIR lz4.h REQUIRED)
find_library(LZ4_LIBRARY lz4 REQUIRED)
add_library(switchyard_lz4 INTERFACE IMPORTED)
target_include_directories(switchyard_lz4 INTERFACE ${LZ4_INCLUDE_DIR})
target_link_libraries(switchyard_lz4 INTERFACE ${LZ4_LIBRARY})
