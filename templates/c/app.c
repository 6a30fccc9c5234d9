// {{name}}: a callhost workflow. It answers every call with audio and logs how the call goes.
//
// workflow.h is generated from wit/ by the build. The handler owns its arguments (free them)
// and returns false with a message in `err` to report a failure. A fresh instance handles each
// event: keep what must survive in the `state` interface.

#include <stdbool.h>
#include <stddef.h>

#include "workflow.h"

static workflow_string_t str(const char *text) {
    workflow_string_t borrowed;
    workflow_string_set(&borrowed, text);
    return borrowed;
}

static void log_info(const char *message, const char *key, workflow_string_t value) {
    workflow_tuple2_string_string_t field = {str(key), value};
    workflow_list_tuple2_string_string_t fields = {&field, 1};
    workflow_string_t text = str(message);
    callhost_workflow_log_log(CALLHOST_WORKFLOW_LOG_LEVEL_INFO, &text, &fields);
}

// A call rings at the bot: answer it with audio. Prompts to prefetch go in `prefetch`.
static bool answer(workflow_string_t *call_id, const callhost_workflow_types_incoming_call_t *incoming,
                   workflow_string_t *err) {
    log_info("answering", "caller", incoming->caller.id);
    callhost_workflow_types_modality_t audio = CALLHOST_WORKFLOW_TYPES_MODALITY_AUDIO;
    callhost_workflow_call_control_answer_options_t options = {
        .modalities = {&audio, 1},
        .prefetch = {NULL, 0},
    };
    callhost_workflow_call_control_call_error_t error;
    if (callhost_workflow_call_control_answer(call_id, &options, &error)) {
        return true;
    }
    callhost_workflow_types_call_error_free(&error);
    workflow_string_dup(err, "answer failed");
    return false;
}

static const char *const STATES[] = {
    "incoming",    "establishing", "established", "hold",        "transferring",
    "transfer-accepted", "redirecting", "terminating", "terminated", "unknown",
};

bool exports_callhost_workflow_handler_on_event(exports_callhost_workflow_handler_call_context_t *call,
                                                exports_callhost_workflow_handler_event_t *event,
                                                workflow_string_t *err) {
    bool handled = true;
    switch (event->kind.tag) {
    case CALLHOST_WORKFLOW_TYPES_EVENT_KIND_INCOMING_CALL:
        handled = answer(&call->call_id, &event->kind.val.incoming_call, err);
        break;
    case CALLHOST_WORKFLOW_TYPES_EVENT_KIND_STATE_CHANGED:
        log_info("call state", "state", str(STATES[event->kind.val.state_changed.state]));
        break;
    default:
        break;
    }
    exports_callhost_workflow_handler_call_context_free(call);
    exports_callhost_workflow_handler_event_free(event);
    return handled;
}
