# LiveSupportBot backend. The one entry point: run, test, lint, build, bench, deploy.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= $(HOME)/.cache/livesupportbot/venv
export PATH := $(VENV)/bin:$(PATH)
FUNCTIONS := $(notdir $(patsubst %/main.go,%,$(wildcard functions/*/main.go)))
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: run run-clean test fuzz lint build bench deploy tools

## tools: the pinned Python tools (moto server, cfn-lint, SAM CLI, openapi-spec-validator) in a venv
tools: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	@echo "[make tools] installing the Python tools (moto, cfn-lint, SAM CLI) into $(VENV): a few minutes the first time"
	test -x $(VENV)/bin/pip || python3 -m venv $(VENV)
	scripts/progress.sh "[make tools] installing the Python tools" $(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The local stack's cache (its own command, the emulator, the functions' builds):
# kept between runs so a second start only relinks what changed.
LOCALSTACK_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/livesupportbot/localstack

## run: the whole suite locally (moto, every function under the Lambda emulator, the gateway).
## The recipe ends by exec'ing the stack, so it is make's child itself: the SIGTERM
## make passes to its child reaches it (not a `go run` in between), and it stops everything.
run:
	@export LOCALSTACK_STARTED=$$(date +%s.%N); \
	$(MAKE) --no-print-directory tools; \
	echo "[make run] compiling the local stack command (the first time, this compiles the AWS SDK: a minute or two)"; \
	mkdir -p $(LOCALSTACK_CACHE); \
	scripts/progress.sh "[make run] compiling the local stack command" \
		go build -o $(LOCALSTACK_CACHE)/localstack ./local/cmd/localstack; \
	exec $(LOCALSTACK_CACHE)/localstack

## run-clean: forget the local stack's cached builds (then run as the first time)
run-clean:
	rm -rf $(LOCALSTACK_CACHE)
	$(MAKE) --no-print-directory run

## test: unit, store, handler and end-to-end tests against moto, then the lints.
## Each test binary starts its own moto server on a free loopback port (and stops
## it when it exits) unless AWS_ENDPOINT_URL names one: moto's backends are not
## thread-safe, so packages do not share one.
test: tools
	go test -race -p 2 -timeout 15m ./...
	$(MAKE) fuzz
	$(MAKE) lint

# Fuzz targets of the parsers of untrusted input, as package:target. Their seed
# corpora (testdata/fuzz/<target>) run in plain `go test` too.
FUZZ_TARGETS := \
	shared/adminapi:FuzzDecodeStrict shared/adminapi:FuzzCursor shared/adminapi:FuzzAdminRequest \
	shared/frames:FuzzErrorFrame shared/frames:FuzzMessageFrame \
	shared/visitortoken:FuzzVerify shared/visitortoken:FuzzIssueVerify shared/visitortoken:FuzzVerifyAgent \
	shared/wsmessage:FuzzFrame shared/wsmessage:FuzzAgentFrame \
	shared/slackbridge:FuzzParseEvent shared/slackbridge:FuzzSignedEvents \
	shared/meta:FuzzParse shared/metabridge:FuzzSignedWebhook \
	shared/telegram:FuzzParse shared/line:FuzzParse shared/viber:FuzzParse shared/chanbridge:FuzzSignedWebhook \
	shared/wechat:FuzzParse shared/wechat:FuzzDecrypt shared/xdm:FuzzParse \
	shared/zendesk:FuzzParseEvent shared/zendesk:FuzzVerify shared/zendeskbridge:FuzzSignedWebhook \
	shared/dialogflow:FuzzParseResponse \
	shared/store:FuzzPageCursor
FUZZTIME ?= 3s

## fuzz: each fuzz target for FUZZTIME (-fuzz takes one target per run), sharing one moto
fuzz: tools
	scripts/with-moto.sh scripts/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

## lint: go.mod tidy, go vet, staticcheck, cfn-lint, sam validate and the OpenAPI document
lint: tools
	go mod tidy -diff
	go vet ./...
	go tool staticcheck ./...
	openapi-spec-validator openapi.yaml
	cfn-lint template.yaml
	sam validate --lint --template template.yaml

## build: every function's arm64 bootstrap into build/<function>/bootstrap
build:
	for f in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(LAMBDA_FLAGS) -o build/$$f/bootstrap ./functions/$$f; \
	done
	@ls -l build/*/bootstrap | awk '{printf "%-40s %6.2f MiB\n", $$9, $$5/1048576}'

# sam build (BuildMethod: makefile) runs build-<LogicalId> with ARTIFACTS_DIR set;
# WidgetSessionFunction builds ./functions/widget-session.
build-%Function:
	dir=$$(echo '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr 'A-Z' 'a-z'); \
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$$dir

## bench: the benchmarks, sized for a 2-core machine
bench: tools
	scripts/with-moto.sh go test -run '^$$' -bench . -benchtime 20x -p 1 ./...

## deploy: build with SAM and deploy with the committed samconfig.toml
deploy:
	sam build
	sam deploy
