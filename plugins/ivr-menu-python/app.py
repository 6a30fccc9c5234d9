"""A key-press menu, the Python twin of plugins/ivr-menu: same config, prompts, call state,
transfers and log lines.

The caller hears the menu and presses 1 to be transferred to sales, 2 to hear the information
prompt (then the call ends), 0 to be transferred to the operator, * to hear the menu again. Any
other key replays the menu; after three of them the caller hears goodbye and the call ends. A
caller who presses nothing for `no_input_ms` after the menu has played hears it again; after
three such silences, goodbye.

Config: `menu`, `info` and `goodbye` are prompt URLs (WAV: mono, 16-bit, 16 kHz); `sales` and
`operator` are transfer targets: `user:<object-id>`, `phone:+<E.164 number>` or
`application:<app-id>`. `no_input_ms` is the silence allowed after the menu (8000 by default).
Call state: `stage` (`menu`, `transferring` or `hanging-up`), `invalid-keys` (the count of keys
the menu does not offer), `silences` (the count of silences after the menu) and `hang-up-after`
(the operation id of the last prompt).

Built by `cargo xtask build-plugins` with componentize-py into target/plugins/ivr-menu-python.wasm.
"""

import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import call_control, config, log, state, timers, types

# Config keys.
MENU = "menu"
INFO = "info"
GOODBYE = "goodbye"
SALES = "sales"
OPERATOR = "operator"

# Call-state keys and the stages stored under STAGE.
STAGE = "stage"
INVALID_KEYS = "invalid-keys"
HANG_UP_AFTER = "hang-up-after"
SILENCES = "silences"
STAGE_MENU = "menu"
STAGE_TRANSFERRING = "transferring"
STAGE_HANGING_UP = "hanging-up"
STAGES = (STAGE_MENU, STAGE_TRANSFERRING, STAGE_HANGING_UP)

# Invalid keys a caller may press, and silences after the menu, before it says goodbye.
MAX_INVALID_KEYS = 3
MAX_SILENCES = 3

# The timer of a silence after the menu, and its config key.
NO_INPUT = "no-input"
NO_INPUT_MS = "no_input_ms"
DEFAULT_NO_INPUT_MS = 8000

Tone = types.Tone
KEY_LABELS = {
    Tone.ZERO: "0", Tone.ONE: "1", Tone.TWO: "2", Tone.THREE: "3", Tone.FOUR: "4",
    Tone.FIVE: "5", Tone.SIX: "6", Tone.SEVEN: "7", Tone.EIGHT: "8", Tone.NINE: "9",
    Tone.STAR: "*", Tone.POUND: "#", Tone.A: "A", Tone.B: "B", Tone.C: "C", Tone.D: "D",
    Tone.FLASH: "flash",
}


class Handler(exports.Handler):
    def on_event(self, call: types.CallContext, event: types.Event) -> None:
        call_id = call.call_id
        kind = event.kind
        if isinstance(kind, types.EventKind_IncomingCall):
            answer(call_id)
        elif isinstance(kind, types.EventKind_StateChanged):
            if kind.value.state == types.CallState.ESTABLISHED:
                on_established(call_id, kind.value)
        elif isinstance(kind, types.EventKind_ToneReceived):
            on_key(call_id, kind.value.tone)
        elif isinstance(kind, types.EventKind_OperationCompleted):
            on_operation_completed(call_id, kind.value)
        elif isinstance(kind, types.EventKind_TimerFired):
            on_timer(call_id, kind.value)
        else:
            debug("nothing to do for this event")


def answer(call_id: str) -> None:
    """Answers with audio and has Graph fetch the menu right away."""
    options = call_control.AnswerOptions(
        modalities=[types.Modality.AUDIO], prefetch=[configured_prompt(MENU)]
    )
    info("answering")
    request("answer", lambda: call_control.answer(call_id, options))


def on_established(call_id: str, change: types.StateChanged) -> None:
    """The call is connected, or back after a failed transfer: offer the menu."""
    stage = current_stage()
    if stage is None:
        request("subscribe-to-tone", lambda: call_control.subscribe_to_tone(call_id, None))
        info("connected; offering the menu")
    elif stage == STAGE_TRANSFERRING:
        result = change.result
        shown = f"{result.code}/{result.subcode}" if result is not None else "none"
        warn("transfer failed; back to the menu", [("result", shown)])
    else:
        return
    set_call_state(STAGE, STAGE_MENU)
    play(call_id, MENU)


def on_key(call_id: str, tone: types.Tone) -> None:
    key = KEY_LABELS[tone]
    if current_stage() != STAGE_MENU:
        debug("key ignored: the menu is not on offer now", [("key", key)])
        return
    info("key pressed", [("key", key)])
    timer_request(f"cancel-timer {NO_INPUT}", lambda: timers.cancel_timer(call_id, NO_INPUT))
    if tone == Tone.ONE:
        transfer(call_id, SALES)
    elif tone == Tone.TWO:
        play_then_hang_up(call_id, INFO)
    elif tone == Tone.ZERO:
        transfer(call_id, OPERATOR)
    elif tone == Tone.STAR:
        play(call_id, MENU)
    else:
        on_invalid_key(call_id)


def count(key: str) -> int:
    """Counts one more under `key` of the call's state; the new count."""
    stored = call_state(key)
    counted = (int(stored) if stored is not None and stored.isdigit() else 0) + 1
    set_call_state(key, str(counted))
    return counted


def on_invalid_key(call_id: str) -> None:
    if count(INVALID_KEYS) >= MAX_INVALID_KEYS:
        info("too many invalid keys; saying goodbye")
        play_then_hang_up(call_id, GOODBYE)
    else:
        play(call_id, MENU)


def transfer(call_id: str, key: str) -> None:
    """Blind transfer to the target configured under `key`."""
    target = configured_target(key)
    info("transferring", [("to", key), ("target", target.id)])
    transfer_request = call_control.TransferRequest(
        target=target, replaces_call_id=None, transferee=None
    )
    request(f"transfer to {key}", lambda: call_control.transfer(call_id, transfer_request))
    set_call_state(STAGE, STAGE_TRANSFERRING)


def play_then_hang_up(call_id: str, key: str) -> None:
    """Plays the prompt configured under `key`; the call ends when it has played."""
    operation_id = play(call_id, key)
    set_call_state(HANG_UP_AFTER, operation_id)
    set_call_state(STAGE, STAGE_HANGING_UP)


def on_operation_completed(call_id: str, operation: types.OperationCompleted) -> None:
    if operation.client_context == MENU and current_stage() == STAGE_MENU:
        delay = no_input_ms()
        timer_request(
            f"set-timer {NO_INPUT}", lambda: timers.set_timer(call_id, NO_INPUT, delay, None)
        )
        return
    if call_state(HANG_UP_AFTER) != operation.operation_id:
        return
    info("last prompt over; hanging up")
    request("hang-up", lambda: call_control.hang_up(call_id))


def on_timer(call_id: str, timer: types.TimerFired) -> None:
    """Nothing was pressed after the menu."""
    if timer.name != NO_INPUT or current_stage() != STAGE_MENU:
        return
    if count(SILENCES) >= MAX_SILENCES:
        info("no key pressed three times; saying goodbye")
        play_then_hang_up(call_id, GOODBYE)
    else:
        info("no key pressed; offering the menu again")
        play(call_id, MENU)


def no_input_ms() -> int:
    """How long the caller may be silent after the menu, in milliseconds."""
    value = config.get(NO_INPUT_MS)
    if value is None:
        return DEFAULT_NO_INPUT_MS
    if not value.isdigit():
        raise Err(f"config `{NO_INPUT_MS}` is not a number of milliseconds: `{value}`")
    return int(value)


def play(call_id: str, key: str) -> str:
    """Plays the prompt configured under `key` (also the playback's client context) and
    returns its operation id."""
    prompt = configured_prompt(key)
    operation_id = request(
        f"play-prompt {key}", lambda: call_control.play_prompt(call_id, [prompt], key)
    )
    info("playing", [("prompt", key), ("operation-id", operation_id)])
    return operation_id


# Config.

def required_config(key: str) -> str:
    value = config.get(key)
    if value is None:
        raise Err(f"config value `{key}` is not set; add it to the plugin's `config` table")
    return value


def configured_prompt(key: str) -> types.MediaPrompt:
    uri = required_config(key)
    return types.MediaPrompt(uri=uri, resource_id=resource_id(key, uri))


def resource_id(key: str, uri: str) -> str:
    """Graph caches prompt audio under its resource id; a hash of the URL (FNV-1a) in it
    means a changed URL is fetched again."""
    hash = 0x811C9DC5
    for byte in uri.encode():
        hash = ((hash ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{key}-{hash:08x}"


EXPECTED_TARGET = "`user:<object-id>`, `phone:+<E.164 number>` or `application:<app-id>`"
GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def configured_target(key: str) -> types.Identity:
    value = required_config(key)
    target = parse_target(value)
    if target is None:
        raise Err(
            f"config value `{key}` = `{value}` is not a transfer target; expected {EXPECTED_TARGET}"
        )
    return target


TARGET_FORMS = {
    "user": (types.IdentityKind.USER, GUID),
    "application": (types.IdentityKind.APPLICATION, GUID),
    "phone": (types.IdentityKind.PHONE, E164),
}


def parse_target(value: str):
    """The identity written as `user:<object-id>`, `phone:+<E.164 number>` or
    `application:<app-id>`, or None."""
    kind, _, id = value.partition(":")
    if kind not in TARGET_FORMS:
        return None
    identity_kind, form = TARGET_FORMS[kind]
    if not form.fullmatch(id):
        return None
    return types.Identity(kind=identity_kind, id=id, display_name=None, tenant_id=None)


# Call state: text values.

def current_stage():
    """The call's stage; None before the call is established."""
    stage = call_state(STAGE)
    return stage if stage in STAGES else None


def call_state(key: str):
    value = state.get(state.Scope.CALL, key)
    return None if value is None else value.decode("utf-8", "replace")


def set_call_state(key: str, value: str) -> None:
    try:
        state.set(state.Scope.CALL, key, value.encode())
    except Err as error:
        raise Err(f"call state `{key}` not stored: quota exceeded ({error.value.value})")


# Call-control requests and logging.

def request(name: str, send):
    """Sends a call-control request; a failure is logged and ends the event with its message."""
    try:
        return send()
    except Err as error:
        message = f"{name} failed: {describe(error.value)}"
        warn(message)
        raise Err(message)


def timer_request(name: str, send):
    """A timer request; a refusal is logged and ends the event with its message."""
    try:
        return send()
    except Err as error:
        refusal = error.value
        if isinstance(refusal, timers.TimerError_InvalidArgument):
            why = f"invalid-argument: {refusal.value}"
        elif isinstance(refusal, timers.TimerError_TooMany):
            why = f"too-many: at most {refusal.value} timers per call"
        else:
            why = "not-found (not this event's call)"
        message = f"{name} failed: {why}"
        warn(message)
        raise Err(message)


def describe(error: types.CallError) -> str:
    """A call error in the words of the WIT contract."""
    if isinstance(error, types.CallError_NotFound):
        return "not-found (the call is gone)"
    if isinstance(error, types.CallError_Forbidden):
        return "forbidden (missing permission or tenant policy)"
    if isinstance(error, types.CallError_Throttled):
        return "throttled"
    if isinstance(error, types.CallError_Timeout):
        return "timeout (the request may or may not have taken effect)"
    if isinstance(error, types.CallError_InvalidArgument):
        return f"invalid-argument: {error.value}"
    if isinstance(error, types.CallError_NotPermitted):
        return f"not-permitted: {error.value}"
    if isinstance(error, types.CallError_Upstream):
        upstream = error.value
        return f"upstream: HTTP {upstream.status} {upstream.code}: {upstream.message}"
    return f"other: {error.value}"


def debug(message: str, fields=()) -> None:
    log.log(log.Level.DEBUG, message, list(fields))


def info(message: str, fields=()) -> None:
    log.log(log.Level.INFO, message, list(fields))


def warn(message: str, fields=()) -> None:
    log.log(log.Level.WARN, message, list(fields))
