"""{{name}}: a callhost workflow. It answers every call with audio and logs how the call goes.

The bindings (`wit_world`) are generated from wit/ when componentize-py builds the component.
A fresh instance handles each event: keep what must survive in the `state` interface.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import call_control, log, types


class Handler(exports.Handler):
    def on_event(self, call: types.CallContext, event: types.Event) -> None:
        kind = event.kind
        if isinstance(kind, types.EventKind_IncomingCall):
            answer(call.call_id, kind.value)
        elif isinstance(kind, types.EventKind_StateChanged):
            log.log(log.Level.INFO, "call state", [("state", kind.value.state.name.lower())])


def answer(call_id: str, incoming: types.IncomingCall) -> None:
    """A call rings at the bot: answer it with audio. Prompts to prefetch go in `prefetch`."""
    log.log(log.Level.INFO, "answering", [("caller", incoming.caller.id)])
    options = call_control.AnswerOptions(modalities=[types.Modality.AUDIO], prefetch=[])
    try:
        call_control.answer(call_id, options)
    except Err as error:
        # Raising Err(message) ends the event with that message in the host's log.
        raise Err(f"answer failed: {error.value}")
