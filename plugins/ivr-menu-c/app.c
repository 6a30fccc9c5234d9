// A key-press menu, the C twin of plugins/ivr-menu: same config, prompts, call state, transfers
// and log lines.
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
// workflow.h is generated from wit/ by `cargo xtask build-plugins`. Functions that can fail
// return false after `fail` has written the message that on-event returns.

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow.h"

// Config keys.
#define MENU "menu"
#define INFO "info"
#define GOODBYE "goodbye"
#define SALES "sales"
#define OPERATOR "operator"

// Call-state keys.
#define STAGE "stage"
#define INVALID_KEYS "invalid-keys"
#define HANG_UP_AFTER "hang-up-after"
#define SILENCES "silences"

// The timer of a silence after the menu, and its config key.
#define NO_INPUT "no-input"
#define NO_INPUT_MS "no_input_ms"
#define DEFAULT_NO_INPUT_MS 8000u

// Where the call is in the menu, stored under STAGE by its name in STAGE_NAMES.
typedef enum {
    // Before the call is established.
    NO_STAGE,
    // The menu is offered: keys are handled.
    STAGE_MENU,
    // A transfer was requested: keys are ignored until it ends the call or fails.
    STAGE_TRANSFERRING,
    // The last prompt plays or the call is being hung up: keys are ignored.
    STAGE_HANGING_UP,
} stage_t;

static const char *const STAGE_NAMES[] = {NULL, "menu", "transferring", "hanging-up"};

// Invalid keys a caller may press, and silences after the menu, before it says goodbye.
#define MAX_INVALID_KEYS 3
#define MAX_SILENCES 3

#define EXPECTED_TARGET \
    "`user:<object-id>`, `phone:+<E.164 number>` or `application:<app-id>`"

typedef workflow_string_t string_t;
typedef callhost_workflow_types_media_prompt_t prompt_t;
typedef callhost_workflow_types_identity_t identity_t;
typedef callhost_workflow_types_call_error_t call_error_t;

static const char *const KEY_LABELS[] = {
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D", "flash",
};

// The message of the event's failure.
static char failure[1024];

static bool fail(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(failure, sizeof failure, format, args);
    va_end(args);
    return false;
}

// A component-model string that borrows `text`.
static string_t str(const char *text) {
    string_t borrowed;
    workflow_string_set(&borrowed, text);
    return borrowed;
}

// A NUL-terminated copy of `text`, to free.
static char *c_string(const string_t *text) {
    char *copy = malloc(text->len + 1);
    memcpy(copy, text->ptr, text->len);
    copy[text->len] = '\0';
    return copy;
}

// Log lines: a message and up to two fields (NULL keys are left out).

static void log_line(callhost_workflow_log_level_t level, const char *message, const char *key1,
                     const char *value1, const char *key2, const char *value2) {
    workflow_tuple2_string_string_t fields[2];
    size_t count = 0;
    if (key1 != NULL) {
        fields[count++] = (workflow_tuple2_string_string_t){str(key1), str(value1)};
    }
    if (key2 != NULL) {
        fields[count++] = (workflow_tuple2_string_string_t){str(key2), str(value2)};
    }
    string_t text = str(message);
    workflow_list_tuple2_string_string_t list = {fields, count};
    callhost_workflow_log_log(level, &text, &list);
}

static void debug(const char *message, const char *key, const char *value) {
    log_line(CALLHOST_WORKFLOW_LOG_LEVEL_DEBUG, message, key, value, NULL, NULL);
}

static void info(const char *message, const char *key, const char *value) {
    log_line(CALLHOST_WORKFLOW_LOG_LEVEL_INFO, message, key, value, NULL, NULL);
}

static void warn(const char *message, const char *key, const char *value) {
    log_line(CALLHOST_WORKFLOW_LOG_LEVEL_WARN, message, key, value, NULL, NULL);
}

// Call-control requests.

// A failed call-control request: logged, and the event's failure. Frees `error`.
static bool call_failed(const char *request, call_error_t *error) {
    char reason[768];
    switch (error->tag) {
    case CALLHOST_WORKFLOW_TYPES_CALL_ERROR_NOT_FOUND:
        snprintf(reason, sizeof reason, "not-found (the call is gone)");
        break;
    case CALLHOST_WORKFLOW_TYPES_CALL_ERROR_FORBIDDEN:
        snprintf(reason, sizeof reason, "forbidden (missing permission or tenant policy)");
        break;
    case CALLHOST_WORKFLOW_TYPES_CALL_ERROR_THROTTLED:
        snprintf(reason, sizeof reason, "throttled");
        break;
    case CALLHOST_WORKFLOW_TYPES_CALL_ERROR_TIMEOUT:
        snprintf(reason, sizeof reason,
                 "timeout (the request may or may not have taken effect)");
        break;
    case CALLHOST_WORKFLOW_TYPES_CALL_ERROR_INVALID_ARGUMENT: {
        const string_t *text = &error->val.invalid_argument;
        snprintf(reason, sizeof reason, "invalid-argument: %.*s", (int)text->len, text->ptr);
        break;
    }
    case CALLHOST_WORKFLOW_TYPES_CALL_ERROR_NOT_PERMITTED: {
        const string_t *text = &error->val.not_permitted;
        snprintf(reason, sizeof reason, "not-permitted: %.*s", (int)text->len, text->ptr);
        break;
    }
    case CALLHOST_WORKFLOW_TYPES_CALL_ERROR_UPSTREAM: {
        const callhost_workflow_types_upstream_error_t *upstream = &error->val.upstream;
        snprintf(reason, sizeof reason, "upstream: HTTP %u %.*s: %.*s", upstream->status,
                 (int)upstream->code.len, upstream->code.ptr, (int)upstream->message.len,
                 upstream->message.ptr);
        break;
    }
    default: {
        const string_t *text = &error->val.other;
        snprintf(reason, sizeof reason, "other: %.*s", (int)text->len, text->ptr);
        break;
    }
    }
    callhost_workflow_types_call_error_free(error);
    fail("%s failed: %s", request, reason);
    warn(failure, NULL, NULL);
    return false;
}

// Config.

// The value of `key` (to free), or NULL after `fail`.
static char *required_config(const char *key) {
    string_t name = str(key);
    string_t value;
    if (!callhost_workflow_config_get(&name, &value)) {
        fail("config value `%s` is not set; add it to the plugin's `config` table", key);
        return NULL;
    }
    char *text = c_string(&value);
    workflow_string_free(&value);
    return text;
}

// Graph caches prompt audio under its resource id; a hash of the URL (FNV-1a) in it means a
// changed URL is fetched again.
static void resource_id(const char *key, const char *uri, string_t *id) {
    uint32_t hash = 0x811c9dc5u;
    for (const unsigned char *byte = (const unsigned char *)uri; *byte != '\0'; byte++) {
        hash = (hash ^ *byte) * 0x01000193u;
    }
    char text[256];
    snprintf(text, sizeof text, "%s-%08x", key, hash);
    workflow_string_dup(id, text);
}

// The prompt whose URL is configured under `key`; free it with
// callhost_workflow_types_media_prompt_free.
static bool configured_prompt(const char *key, prompt_t *prompt) {
    char *uri = required_config(key);
    if (uri == NULL) {
        return false;
    }
    workflow_string_dup(&prompt->uri, uri);
    prompt->resource_id.is_some = true;
    resource_id(key, uri, &prompt->resource_id.val);
    free(uri);
    return true;
}

// Entra object ids and app ids are GUIDs: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
static bool is_guid(const char *id) {
    static const char FORM[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(id) != strlen(FORM)) {
        return false;
    }
    for (size_t i = 0; FORM[i] != '\0'; i++) {
        bool hex = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f') ||
                   (id[i] >= 'A' && id[i] <= 'F');
        if (FORM[i] == '-' ? id[i] != '-' : !hex) {
            return false;
        }
    }
    return true;
}

// `+`, a country code that does not start with 0, at most 15 digits in all.
static bool is_e164(const char *number) {
    size_t digits = strlen(number) - 1;
    if (number[0] != '+' || digits < 2 || digits > 15 || number[1] == '0') {
        return false;
    }
    for (const char *digit = number + 1; *digit != '\0'; digit++) {
        if (*digit < '0' || *digit > '9') {
            return false;
        }
    }
    return true;
}

// The identity written as `user:<object-id>`, `phone:+<E.164 number>` or
// `application:<app-id>`.
static bool parse_target(const char *value, identity_t *target) {
    const char *colon = strchr(value, ':');
    if (colon == NULL) {
        return false;
    }
    size_t kind_len = (size_t)(colon - value);
    const char *id = colon + 1;
    if (kind_len == 4 && strncmp(value, "user", 4) == 0 && is_guid(id)) {
        target->kind = CALLHOST_WORKFLOW_TYPES_IDENTITY_KIND_USER;
    } else if (kind_len == 11 && strncmp(value, "application", 11) == 0 && is_guid(id)) {
        target->kind = CALLHOST_WORKFLOW_TYPES_IDENTITY_KIND_APPLICATION;
    } else if (kind_len == 5 && strncmp(value, "phone", 5) == 0 && is_e164(id)) {
        target->kind = CALLHOST_WORKFLOW_TYPES_IDENTITY_KIND_PHONE;
    } else {
        return false;
    }
    workflow_string_dup(&target->id, id);
    target->display_name.is_some = false;
    target->tenant_id.is_some = false;
    return true;
}

// The transfer target configured under `key`; free it with callhost_workflow_types_identity_free.
static bool configured_target(const char *key, identity_t *target) {
    char *value = required_config(key);
    if (value == NULL) {
        return false;
    }
    bool parsed = parse_target(value, target);
    if (!parsed) {
        fail("config value `%s` = `%s` is not a transfer target; expected " EXPECTED_TARGET, key,
             value);
    }
    free(value);
    return parsed;
}

// Call state: text values.

// The text under `key` (to free), or NULL.
static char *call_state(const char *key) {
    string_t name = str(key);
    workflow_list_u8_t value;
    if (!callhost_workflow_state_get(CALLHOST_WORKFLOW_STATE_SCOPE_CALL, &name, &value)) {
        return NULL;
    }
    string_t text = {value.ptr, value.len};
    char *copy = c_string(&text);
    workflow_list_u8_free(&value);
    return copy;
}

static bool call_state_is(const char *key, const char *expected) {
    char *value = call_state(key);
    bool equal = value != NULL && strcmp(value, expected) == 0;
    free(value);
    return equal;
}

static stage_t current_stage(void) {
    char *stored = call_state(STAGE);
    stage_t stage = NO_STAGE;
    for (stage_t known = STAGE_MENU; stored != NULL && known <= STAGE_HANGING_UP; known++) {
        if (strcmp(stored, STAGE_NAMES[known]) == 0) {
            stage = known;
        }
    }
    free(stored);
    return stage;
}

static bool set_call_state(const char *key, const char *value) {
    string_t name = str(key);
    workflow_list_u8_t bytes = {(uint8_t *)value, strlen(value)};
    callhost_workflow_state_state_error_t error;
    if (callhost_workflow_state_set(CALLHOST_WORKFLOW_STATE_SCOPE_CALL, &name, &bytes, &error)) {
        return true;
    }
    if (error.tag == CALLHOST_WORKFLOW_STATE_STATE_ERROR_QUOTA_EXCEEDED) {
        const string_t *limits = &error.val.quota_exceeded;
        fail("call state `%s` not stored: quota exceeded (%.*s)", key, (int)limits->len,
             limits->ptr);
    } else {
        fail("call state `%s` not stored (state error %d)", key, (int)error.tag);
    }
    callhost_workflow_state_state_error_free(&error);
    return false;
}

static bool set_stage(stage_t stage) {
    return set_call_state(STAGE, STAGE_NAMES[stage]);
}

// The workflow.

// Plays the prompt configured under `key` (also the playback's client context); its operation
// id goes to `operation_id` (to free) unless that is NULL.
static bool play(const string_t *call_id, const char *key, char **operation_id) {
    prompt_t prompt;
    if (!configured_prompt(key, &prompt)) {
        return false;
    }
    callhost_workflow_call_control_list_media_prompt_t prompts = {&prompt, 1};
    string_t context = str(key);
    string_t id;
    call_error_t error;
    bool played = callhost_workflow_call_control_play_prompt((string_t *)call_id, &prompts,
                                                             &context, &id, &error);
    callhost_workflow_types_media_prompt_free(&prompt);
    if (!played) {
        char request[128];
        snprintf(request, sizeof request, "play-prompt %s", key);
        return call_failed(request, &error);
    }
    char *text = c_string(&id);
    workflow_string_free(&id);
    log_line(CALLHOST_WORKFLOW_LOG_LEVEL_INFO, "playing", "prompt", key, "operation-id", text);
    if (operation_id != NULL) {
        *operation_id = text;
    } else {
        free(text);
    }
    return true;
}

// Answers with audio and has Graph fetch the menu right away.
static bool answer(const string_t *call_id) {
    prompt_t menu;
    if (!configured_prompt(MENU, &menu)) {
        return false;
    }
    callhost_workflow_types_modality_t audio = CALLHOST_WORKFLOW_TYPES_MODALITY_AUDIO;
    callhost_workflow_call_control_answer_options_t options = {
        .modalities = {&audio, 1},
        .prefetch = {&menu, 1},
    };
    info("answering", NULL, NULL);
    call_error_t error;
    bool answered = callhost_workflow_call_control_answer((string_t *)call_id, &options, &error);
    callhost_workflow_types_media_prompt_free(&menu);
    return answered || call_failed("answer", &error);
}

// The call is connected, or back after a failed transfer: offer the menu.
static bool on_established(const string_t *call_id,
                           const callhost_workflow_types_state_changed_t *change) {
    stage_t stage = current_stage();
    if (stage == NO_STAGE) {
        call_error_t error;
        if (!callhost_workflow_call_control_subscribe_to_tone((string_t *)call_id, NULL,
                                                              &error)) {
            return call_failed("subscribe-to-tone", &error);
        }
        info("connected; offering the menu", NULL, NULL);
    } else if (stage == STAGE_TRANSFERRING) {
        char result[32] = "none";
        if (change->result.is_some) {
            snprintf(result, sizeof result, "%d/%d", change->result.val.code,
                     change->result.val.subcode);
        }
        warn("transfer failed; back to the menu", "result", result);
    } else {
        return true;
    }
    return set_stage(STAGE_MENU) && play(call_id, MENU, NULL);
}

// Blind transfer to the target configured under `key`.
static bool transfer(const string_t *call_id, const char *key) {
    callhost_workflow_call_control_transfer_request_t request = {0};
    if (!configured_target(key, &request.target)) {
        return false;
    }
    char *target = c_string(&request.target.id);
    log_line(CALLHOST_WORKFLOW_LOG_LEVEL_INFO, "transferring", "to", key, "target", target);
    free(target);
    call_error_t error;
    bool transferred =
        callhost_workflow_call_control_transfer((string_t *)call_id, &request, &error);
    callhost_workflow_types_identity_free(&request.target);
    if (!transferred) {
        char name[64];
        snprintf(name, sizeof name, "transfer to %s", key);
        return call_failed(name, &error);
    }
    return set_stage(STAGE_TRANSFERRING);
}

// Plays the prompt configured under `key`; the call ends when it has played.
static bool play_then_hang_up(const string_t *call_id, const char *key) {
    char *operation_id;
    if (!play(call_id, key, &operation_id)) {
        return false;
    }
    bool stored = set_call_state(HANG_UP_AFTER, operation_id);
    free(operation_id);
    return stored && set_stage(STAGE_HANGING_UP);
}

// Counts one more under `key` of the call's state; the new count goes to `count`.
static bool count_one_more(const char *key, unsigned *count) {
    char *stored = call_state(key);
    *count = 0;
    if (stored != NULL && stored[0] != '\0' && strspn(stored, "0123456789") == strlen(stored)) {
        *count = (unsigned)strtoul(stored, NULL, 10);
    }
    free(stored);
    *count += 1;
    char text[16];
    snprintf(text, sizeof text, "%u", *count);
    return set_call_state(key, text);
}

// A refused timer request: logged, and the event's failure. Frees `error`.
static bool timer_failed(const char *request, callhost_workflow_timers_timer_error_t *error) {
    char reason[512];
    switch (error->tag) {
    case CALLHOST_WORKFLOW_TIMERS_TIMER_ERROR_INVALID_ARGUMENT: {
        const string_t *text = &error->val.invalid_argument;
        snprintf(reason, sizeof reason, "invalid-argument: %.*s", (int)text->len, text->ptr);
        break;
    }
    case CALLHOST_WORKFLOW_TIMERS_TIMER_ERROR_TOO_MANY:
        snprintf(reason, sizeof reason, "too-many: at most %u timers per call",
                 (unsigned)error->val.too_many);
        break;
    default:
        snprintf(reason, sizeof reason, "not-found (not this event's call)");
        break;
    }
    callhost_workflow_timers_timer_error_free(error);
    fail("%s failed: %s", request, reason);
    warn(failure, NULL, NULL);
    return false;
}

// How long the caller may be silent after the menu, in milliseconds.
static bool no_input_ms(uint32_t *ms) {
    string_t name = str(NO_INPUT_MS);
    string_t value;
    *ms = DEFAULT_NO_INPUT_MS;
    if (!callhost_workflow_config_get(&name, &value)) {
        return true;
    }
    char *text = c_string(&value);
    workflow_string_free(&value);
    bool digits = text[0] != '\0' && strspn(text, "0123456789") == strlen(text);
    if (digits) {
        *ms = (uint32_t)strtoul(text, NULL, 10);
    } else {
        fail("config `" NO_INPUT_MS "` is not a number of milliseconds: `%s`", text);
    }
    free(text);
    return digits;
}

static bool on_invalid_key(const string_t *call_id) {
    unsigned count;
    if (!count_one_more(INVALID_KEYS, &count)) {
        return false;
    }
    if (count >= MAX_INVALID_KEYS) {
        info("too many invalid keys; saying goodbye", NULL, NULL);
        return play_then_hang_up(call_id, GOODBYE);
    }
    return play(call_id, MENU, NULL);
}

static bool on_key(const string_t *call_id, callhost_workflow_types_tone_t tone) {
    const char *key = KEY_LABELS[tone];
    if (current_stage() != STAGE_MENU) {
        debug("key ignored: the menu is not on offer now", "key", key);
        return true;
    }
    info("key pressed", "key", key);
    string_t timer = str(NO_INPUT);
    bool was_pending;
    callhost_workflow_timers_timer_error_t timer_error;
    if (!callhost_workflow_timers_cancel_timer((string_t *)call_id, &timer, &was_pending,
                                               &timer_error)) {
        return timer_failed("cancel-timer " NO_INPUT, &timer_error);
    }
    switch (tone) {
    case CALLHOST_WORKFLOW_TYPES_TONE_ONE:
        return transfer(call_id, SALES);
    case CALLHOST_WORKFLOW_TYPES_TONE_TWO:
        return play_then_hang_up(call_id, INFO);
    case CALLHOST_WORKFLOW_TYPES_TONE_ZERO:
        return transfer(call_id, OPERATOR);
    case CALLHOST_WORKFLOW_TYPES_TONE_STAR:
        return play(call_id, MENU, NULL);
    default:
        return on_invalid_key(call_id);
    }
}

static bool on_operation_completed(const string_t *call_id,
                                   const callhost_workflow_types_operation_completed_t *operation) {
    const workflow_option_string_t *context = &operation->client_context;
    bool menu_over = context->is_some && context->val.len == strlen(MENU) &&
                     memcmp(context->val.ptr, MENU, strlen(MENU)) == 0;
    if (menu_over && current_stage() == STAGE_MENU) {
        uint32_t delay;
        if (!no_input_ms(&delay)) {
            return false;
        }
        string_t timer = str(NO_INPUT);
        callhost_workflow_timers_timer_error_t error;
        return callhost_workflow_timers_set_timer((string_t *)call_id, &timer, delay, NULL,
                                                  &error) ||
               timer_failed("set-timer " NO_INPUT, &error);
    }
    char *operation_id = c_string(&operation->operation_id);
    bool last_prompt = call_state_is(HANG_UP_AFTER, operation_id);
    free(operation_id);
    if (!last_prompt) {
        return true;
    }
    info("last prompt over; hanging up", NULL, NULL);
    call_error_t error;
    return callhost_workflow_call_control_hang_up((string_t *)call_id, &error) ||
           call_failed("hang-up", &error);
}

// Nothing was pressed after the menu.
static bool on_timer(const string_t *call_id, const callhost_workflow_types_timer_fired_t *timer) {
    bool no_input = timer->name.len == strlen(NO_INPUT) &&
                    memcmp(timer->name.ptr, NO_INPUT, strlen(NO_INPUT)) == 0;
    if (!no_input || current_stage() != STAGE_MENU) {
        return true;
    }
    unsigned silences;
    if (!count_one_more(SILENCES, &silences)) {
        return false;
    }
    if (silences >= MAX_SILENCES) {
        info("no key pressed three times; saying goodbye", NULL, NULL);
        return play_then_hang_up(call_id, GOODBYE);
    }
    info("no key pressed; offering the menu again", NULL, NULL);
    return play(call_id, MENU, NULL);
}

static bool handle(const string_t *call_id, const callhost_workflow_types_event_kind_t *kind) {
    switch (kind->tag) {
    case CALLHOST_WORKFLOW_TYPES_EVENT_KIND_INCOMING_CALL:
        return answer(call_id);
    case CALLHOST_WORKFLOW_TYPES_EVENT_KIND_STATE_CHANGED:
        if (kind->val.state_changed.state != CALLHOST_WORKFLOW_TYPES_CALL_STATE_ESTABLISHED) {
            return true;
        }
        return on_established(call_id, &kind->val.state_changed);
    case CALLHOST_WORKFLOW_TYPES_EVENT_KIND_TONE_RECEIVED:
        return on_key(call_id, kind->val.tone_received.tone);
    case CALLHOST_WORKFLOW_TYPES_EVENT_KIND_OPERATION_COMPLETED:
        return on_operation_completed(call_id, &kind->val.operation_completed);
    case CALLHOST_WORKFLOW_TYPES_EVENT_KIND_TIMER_FIRED:
        return on_timer(call_id, &kind->val.timer_fired);
    default:
        debug("nothing to do for this event", NULL, NULL);
        return true;
    }
}

bool exports_callhost_workflow_handler_on_event(exports_callhost_workflow_handler_call_context_t *call,
                                                exports_callhost_workflow_handler_event_t *event,
                                                string_t *err) {
    bool handled = handle(&call->call_id, &event->kind);
    if (!handled) {
        workflow_string_dup(err, failure);
    }
    exports_callhost_workflow_handler_call_context_free(call);
    exports_callhost_workflow_handler_event_free(event);
    return handled;
}
