// {{name}}: a callhost workflow. It answers every call with audio and logs how the call goes.
//
// WIT in JavaScript: records are objects with camelCase fields, enums are their WIT names as
// strings, variants are `{ tag, val }`, a failed import throws an error whose `payload` is the
// WIT error, and a string thrown from `onEvent` is its `err`. A fresh instance handles each
// event: keep what must survive in the `state` interface.

import { answer } from 'callhost:workflow/call-control@0.3.0';
import { log } from 'callhost:workflow/log@0.3.0';

export const handler = {
  onEvent(call, event) {
    const { tag, val } = event.kind;
    if (tag === 'incoming-call') {
      // A call rings at the bot: answer it with audio. Prompts to prefetch go in `prefetch`.
      log('info', 'answering', [['caller', val.caller.id]]);
      try {
        answer(call.callId, { modalities: ['audio'], prefetch: [] });
      } catch (error) {
        throw `answer failed: ${JSON.stringify(error.payload)}`;
      }
    } else if (tag === 'state-changed') {
      log('info', 'call state', [['state', val.state]]);
    }
  },
};
