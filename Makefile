# Thin wrapper: the README's two commands, each complete on a fresh Debian 12 machine.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: setup configure build demo support-report test bench clean

setup:
	./scripts/setup

configure: setup
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE); fi

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The customer-support swarm on six tickets with the sim provider: replies, then the
# cost report. `make support-report` runs all 219 bundled tickets.
demo: build
	$(BUILD_DIR)/bin/switchyard run support --config examples/configs/default.json \
	  --batch examples/tickets/demo.jsonl --no-db --log-level error

support-report: build
	$(BUILD_DIR)/bin/switchyard run support --config examples/configs/default.json \
	  --batch examples/tickets/tickets.jsonl --no-db --log-level error --audit $(BUILD_DIR)/support-audit.jsonl

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

bench: build
	$(BUILD_DIR)/bin/bench_swarm

clean:
	rm -rf $(BUILD_DIR)
