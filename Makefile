# ncnpush — see README.md. Two commands do everything on a fresh machine:
#   make demo   brings up the container-master lab and runs the story in it
#   make test   all the tests: unit tests, then the lab suite (needs root)
SHELL := /bin/bash
GO ?= go
# LAB_NET picks one of the machine's labs (0..250): each is a lab of its own.
LAB_NET ?= 0
LAB_DIR ?= /var/tmp/ncnpush-lab$(filter-out 0,$(LAB_NET))
ETCD_VERSION ?= 3.5.21
ETCD_MATRIX ?= 3.4 3.5.21 3.6.16
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
export LAB_DIR LAB_NET ETCD_VERSION

LAB := fixtures/lab.sh
BIN := bin/ncnpush
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /e2e)

.PHONY: build test unit lab-test test-matrix demo bench lab-tools lab-up lab-down lab-status \
	lab-backup lab-seed lab-check vet fmt clean fuzz fuzz-smoke

build: $(BIN)

$(BIN): $(shell find . -name '*.go' -not -path './fixtures/*') $(shell find templates tasks -type f 2>/dev/null) go.mod go.sum
	$(GO) build -trimpath -ldflags "-X github.com/ncnpush/ncnpush/cmd.Version=$(VERSION)" -o $@ .

## test: unit tests, a short run of every fuzz target, then the lab suite
## against container masters (root). Each stage's time is printed as it ends
## (the budget is 60 min on a cold 2-core machine).
test:
	@start=$$(date +%s); for stage in lab-tools unit fuzz-smoke lab-test; do \
		t=$$(date +%s); $(MAKE) $$stage || exit; \
		echo "make test: $$stage took $$(( $$(date +%s) - t ))s ($$(( $$(date +%s) - start ))s so far)"; \
	done

unit: vet
	$(GO) test -count=1 -timeout 15m $(UNIT_PKGS)

# Fuzzing: fixtures/fuzz.sh runs every `func FuzzXxx` of the module's tests,
# one `go test -fuzz` per target. Their seed corpora are in each package's
# testdata/fuzz/FuzzXxx/ and also run as plain unit tests.
FUZZTIME ?= 60s
FUZZ_SMOKE_TIME ?= 4s

## fuzz: every fuzz target for FUZZTIME (default 60s) each, one after the
## other (FUZZ_ONLY=regexp narrows); a failing input lands in the package's
## testdata/fuzz/.
fuzz:
	GO=$(GO) fixtures/fuzz.sh $(FUZZTIME)

## fuzz-smoke: every fuzz target for FUZZ_SMOKE_TIME (default 4s): part of make test.
fuzz-smoke:
	GO=$(GO) fixtures/fuzz.sh $(FUZZ_SMOKE_TIME)

# lab-test prints only the RUN/PASS/FAIL lines as it goes (the whole log is in
# LAB_TEST_LOG); when a test fails, it then prints what each failed test wrote.
LAB_TEST_LOG ?= /tmp/ncnpush-lab$(filter-out 0,$(LAB_NET))-test.log
lab-test: $(BIN)
	$(GO) test -count=1 -timeout 65m -v ./e2e/ 2>&1 | tee $(LAB_TEST_LOG) | grep -E '^ *(=== RUN|--- |PASS|FAIL|ok|e2e:|panic)'; \
		rc=$${PIPESTATUS[0]}; if ((rc)); then awk -f fixtures/failed-output.awk $(LAB_TEST_LOG); fi; exit $$rc

## test-matrix: the lab suite once for each supported etcd version.
test-matrix: lab-tools
	set -e; for v in $(ETCD_MATRIX); do echo "== etcd $$v"; ETCD_VERSION=$$v $(MAKE) lab-test; done

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^fixtures/tools/'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }

## demo: the whole story in the lab: data, a CSM-style backup, changed data,
## `ncnpush etcd restore --backup latest --yes`, and exactly the backup's data back.
demo: $(BIN) lab-up
	@echo "== 1. write 1000 keys (tag before)"
	$(LAB) seed -tag before -n 1000
	@echo "== 2. take a backup exactly as CSM's kube-etcdbackup CronJob does"
	$(LAB) backup
	@echo "== 3. change the data: 200 more keys (tag after)"
	$(LAB) seed -tag after -n 200
	@echo "== the bucket, as ncnpush sees it"
	set -a; . $(LAB_DIR)/s3.env; set +a; $(BIN) backups list
	@echo "== 4. restore the latest backup on every master (revision bumped, so that the API servers"
	@echo "==    drop their cache), then heal the CronJobs a restore leaves stuck"
	set -a; . $(LAB_DIR)/s3.env; set +a; $(BIN) etcd restore -i $(LAB_DIR)/inventory.yaml \
		--known-hosts $(LAB_DIR)/known_hosts --backup latest --yes --bump-revision
	@echo "== 5. every member holds exactly the backup's data"
	$(LAB) check -tag before -n 1000 -absent after
	$(BIN) etcd status -i $(LAB_DIR)/inventory.yaml --known-hosts $(LAB_DIR)/known_hosts
	@echo "== the lab stays up; files for you are in $(LAB_DIR); make lab-down stops it"

lab-tools:
	$(LAB) tools
lab-up:
	$(LAB) up
lab-down:
	$(LAB) down
lab-status:
	$(LAB) status
lab-backup:
	$(LAB) backup
lab-seed:
	$(LAB) seed -tag seed -n 1000
lab-check:
	$(LAB) check -tag seed -n 1000

clean:
	rm -rf bin

## bench: benchmarks (not tests): ncnpush against the runbook, Ansible and pssh
## (bench/bench.sh; BENCH_ONLY=B1,B3 BENCH_RUNS=5 BENCH_SIZES="256 1024" narrow it).
bench:
	bench/bench.sh
