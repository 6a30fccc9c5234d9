// A key-press menu, the JavaScript twin of plugins/ivr-menu: same config, prompts, call state,
// transfers and log lines.
//
// The caller hears the menu and presses 1 to be transferred to sales, 2 to hear the information
// prompt (then the call ends), 0 to be transferred to the operator, * to hear the menu again.
// Any other key replays the menu; after three of them the caller hears goodbye and the call ends.
// A caller who presses nothing for `no_input_ms` after the menu has played hears it again; after
// three such silences, goodbye.
//
// Config: `menu`, `info` and `goodbye` are prompt URLs (WAV: mono, 16-bit, 16 kHz); `sales` and
// `operator` are transfer targets: `user:<object-id>`, `phone:+<E.164 number>` or
// `application:<app-id>`. `no_input_ms` is the silence allowed after the menu (8000 by default).
// Call state: `stage` (`menu`, `transferring` or `hanging-up`), `invalid-keys` (the count of
// keys the menu does not offer), `silences` (the count of silences after the menu) and
// `hang-up-after` (the operation id of the last prompt).
//
// WIT in JavaScript: records are objects with camelCase fields, enums are their WIT names as
// strings, variants are `{ tag, val }`, a failed import throws an error whose `payload` is the
// WIT error, and a string thrown from `onEvent` becomes its `err`.

import * as callControl from 'callhost:workflow/call-control@0.3.0';
import * as config from 'callhost:workflow/config@0.3.0';
import { log } from 'callhost:workflow/log@0.3.0';
import * as state from 'callhost:workflow/state@0.3.0';
import * as timers from 'callhost:workflow/timers@0.3.0';

// Config keys.
const MENU = 'menu';
const INFO = 'info';
const GOODBYE = 'goodbye';
const SALES = 'sales';
const OPERATOR = 'operator';

// Call-state keys and the stages stored under STAGE.
const STAGE = 'stage';
const INVALID_KEYS = 'invalid-keys';
const HANG_UP_AFTER = 'hang-up-after';
const SILENCES = 'silences';
const STAGE_MENU = 'menu';
const STAGE_TRANSFERRING = 'transferring';
const STAGE_HANGING_UP = 'hanging-up';
const STAGES = [STAGE_MENU, STAGE_TRANSFERRING, STAGE_HANGING_UP];

// Invalid keys a caller may press, and silences after the menu, before it says goodbye.
const MAX_INVALID_KEYS = 3;
const MAX_SILENCES = 3;

// The timer of a silence after the menu, and its config key.
const NO_INPUT = 'no-input';
const NO_INPUT_MS = 'no_input_ms';
const DEFAULT_NO_INPUT_MS = 8000;

const KEY_LABELS = {
  zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7',
  eight: '8', nine: '9', star: '*', pound: '#', a: 'A', b: 'B', c: 'C', d: 'D', flash: 'flash',
};

export const handler = {
  onEvent(call, event) {
    const callId = call.callId;
    const { tag, val } = event.kind;
    switch (tag) {
      case 'incoming-call':
        return answer(callId);
      case 'state-changed':
        return val.state === 'established' ? onEstablished(callId, val) : undefined;
      case 'tone-received':
        return onKey(callId, val.tone);
      case 'operation-completed':
        return onOperationCompleted(callId, val);
      case 'timer-fired':
        return onTimer(callId, val);
      default:
        debug('nothing to do for this event');
    }
  },
};

/** Answers with audio and has Graph fetch the menu right away. */
function answer(callId) {
  const options = { modalities: ['audio'], prefetch: [configuredPrompt(MENU)] };
  info('answering');
  request('answer', () => callControl.answer(callId, options));
}

/** The call is connected, or back after a failed transfer: offer the menu. */
function onEstablished(callId, change) {
  const stage = currentStage();
  if (stage === undefined) {
    request('subscribe-to-tone', () => callControl.subscribeToTone(callId, undefined));
    info('connected; offering the menu');
  } else if (stage === STAGE_TRANSFERRING) {
    const result = change.result ? `${change.result.code}/${change.result.subcode}` : 'none';
    warn('transfer failed; back to the menu', [['result', result]]);
  } else {
    return;
  }
  setCallState(STAGE, STAGE_MENU);
  play(callId, MENU);
}

function onKey(callId, tone) {
  const key = KEY_LABELS[tone];
  if (currentStage() !== STAGE_MENU) {
    debug('key ignored: the menu is not on offer now', [['key', key]]);
    return;
  }
  info('key pressed', [['key', key]]);
  timerRequest(`cancel-timer ${NO_INPUT}`, () => timers.cancelTimer(callId, NO_INPUT));
  switch (tone) {
    case 'one':
      return transfer(callId, SALES);
    case 'two':
      return playThenHangUp(callId, INFO);
    case 'zero':
      return transfer(callId, OPERATOR);
    case 'star':
      play(callId, MENU);
      return;
    default:
      return onInvalidKey(callId);
  }
}

/** Counts one more under `key` of the call's state; the new count. */
function countOneMore(key) {
  const stored = callState(key);
  const count = (/^[0-9]+$/.test(stored ?? '') ? Number(stored) : 0) + 1;
  setCallState(key, String(count));
  return count;
}

function onInvalidKey(callId) {
  if (countOneMore(INVALID_KEYS) >= MAX_INVALID_KEYS) {
    info('too many invalid keys; saying goodbye');
    playThenHangUp(callId, GOODBYE);
  } else {
    play(callId, MENU);
  }
}

/** Blind transfer to the target configured under `key`. */
function transfer(callId, key) {
  const target = configuredTarget(key);
  info('transferring', [['to', key], ['target', target.id]]);
  const transferRequest = { target, replacesCallId: undefined, transferee: undefined };
  request(`transfer to ${key}`, () => callControl.transfer(callId, transferRequest));
  setCallState(STAGE, STAGE_TRANSFERRING);
}

/** Plays the prompt configured under `key`; the call ends when it has played. */
function playThenHangUp(callId, key) {
  const operationId = play(callId, key);
  setCallState(HANG_UP_AFTER, operationId);
  setCallState(STAGE, STAGE_HANGING_UP);
}

function onOperationCompleted(callId, operation) {
  if (operation.clientContext === MENU && currentStage() === STAGE_MENU) {
    const delay = noInputMs();
    timerRequest(`set-timer ${NO_INPUT}`, () =>
      timers.setTimer(callId, NO_INPUT, delay, undefined),
    );
    return;
  }
  if (callState(HANG_UP_AFTER) !== operation.operationId) {
    return;
  }
  info('last prompt over; hanging up');
  request('hang-up', () => callControl.hangUp(callId));
}

/** Nothing was pressed after the menu. */
function onTimer(callId, timer) {
  if (timer.name !== NO_INPUT || currentStage() !== STAGE_MENU) {
    return;
  }
  if (countOneMore(SILENCES) >= MAX_SILENCES) {
    info('no key pressed three times; saying goodbye');
    playThenHangUp(callId, GOODBYE);
  } else {
    info('no key pressed; offering the menu again');
    play(callId, MENU);
  }
}

/** How long the caller may be silent after the menu, in milliseconds. */
function noInputMs() {
  const value = config.get(NO_INPUT_MS);
  if (value === undefined) {
    return DEFAULT_NO_INPUT_MS;
  }
  if (!/^[0-9]+$/.test(value)) {
    throw `config \`${NO_INPUT_MS}\` is not a number of milliseconds: \`${value}\``;
  }
  return Number(value);
}

/**
 * Plays the prompt configured under `key` (also the playback's client context) and returns its
 * operation id.
 */
function play(callId, key) {
  const prompt = configuredPrompt(key);
  const operationId = request(`play-prompt ${key}`, () =>
    callControl.playPrompt(callId, [prompt], key),
  );
  info('playing', [['prompt', key], ['operation-id', operationId]]);
  return operationId;
}

// Config.

function requiredConfig(key) {
  const value = config.get(key);
  if (value === undefined) {
    throw `config value \`${key}\` is not set; add it to the plugin's \`config\` table`;
  }
  return value;
}

function configuredPrompt(key) {
  const uri = requiredConfig(key);
  return { uri, resourceId: resourceId(key, uri) };
}

/**
 * Graph caches prompt audio under its resource id; a hash of the URL (FNV-1a) in it means a
 * changed URL is fetched again.
 */
function resourceId(key, uri) {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(uri)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return `${key}-${hash.toString(16).padStart(8, '0')}`;
}

const EXPECTED_TARGET = '`user:<object-id>`, `phone:+<E.164 number>` or `application:<app-id>`';
const GUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
const E164 = /^\+[1-9][0-9]{1,14}$/;
// The identity kind of each form is its prefix.
const TARGET_FORMS = { user: GUID, application: GUID, phone: E164 };

function configuredTarget(key) {
  const value = requiredConfig(key);
  const target = parseTarget(value);
  if (target === undefined) {
    throw `config value \`${key}\` = \`${value}\` is not a transfer target; expected ${EXPECTED_TARGET}`;
  }
  return target;
}

/**
 * The identity written as `user:<object-id>`, `phone:+<E.164 number>` or `application:<app-id>`,
 * or undefined.
 */
function parseTarget(value) {
  const colon = value.indexOf(':');
  if (colon < 0) {
    return undefined;
  }
  const kind = value.slice(0, colon);
  const id = value.slice(colon + 1);
  if (!Object.hasOwn(TARGET_FORMS, kind) || !TARGET_FORMS[kind].test(id)) {
    return undefined;
  }
  return { kind, id, displayName: undefined, tenantId: undefined };
}

// Call state: text values.

/** The call's stage; undefined before the call is established. */
function currentStage() {
  const stage = callState(STAGE);
  return STAGES.includes(stage) ? stage : undefined;
}

function callState(key) {
  const value = state.get('call', key);
  return value === undefined ? undefined : new TextDecoder().decode(value);
}

function setCallState(key, value) {
  try {
    state.set('call', key, new TextEncoder().encode(value));
  } catch (error) {
    throw `call state \`${key}\` not stored: quota exceeded (${error.payload.val})`;
  }
}

// Call-control requests and logging.

/** Sends a call-control request; a failure is logged and ends the event with its message. */
function request(name, send) {
  try {
    return send();
  } catch (error) {
    const message = `${name} failed: ${describe(error.payload)}`;
    warn(message);
    throw message;
  }
}

/** A timer request; a refusal is logged and ends the event with its message. */
function timerRequest(name, send) {
  try {
    return send();
  } catch (error) {
    const refusal = error.payload;
    const why =
      refusal.tag === 'invalid-argument'
        ? `invalid-argument: ${refusal.val}`
        : refusal.tag === 'too-many'
          ? `too-many: at most ${refusal.val} timers per call`
          : "not-found (not this event's call)";
    const message = `${name} failed: ${why}`;
    warn(message);
    throw message;
  }
}

/** A call error in the words of the WIT contract. */
function describe(error) {
  switch (error.tag) {
    case 'not-found':
      return 'not-found (the call is gone)';
    case 'forbidden':
      return 'forbidden (missing permission or tenant policy)';
    case 'throttled':
      return 'throttled';
    case 'timeout':
      return 'timeout (the request may or may not have taken effect)';
    case 'invalid-argument':
      return `invalid-argument: ${error.val}`;
    case 'not-permitted':
      return `not-permitted: ${error.val}`;
    case 'upstream':
      return `upstream: HTTP ${error.val.status} ${error.val.code}: ${error.val.message}`;
    default:
      return `other: ${error.val}`;
  }
}

function debug(message, fields = []) {
  log('debug', message, fields);
}

function info(message, fields = []) {
  log('info', message, fields);
}

function warn(message, fields = []) {
  log('warn', message, fields);
}
