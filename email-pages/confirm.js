// The confirmation link's page: confirms as soon as it opens (the link is the only input).
import { INCOMPLETE_LINK, call, say, takeTokens } from './flow.js';

const tokens = takeTokens();
if (!tokens) {
  say('error', INCOMPLETE_LINK);
} else {
  const problem = await call('confirm', tokens);
  if (problem) say('error', `${problem} If you confirmed already, just log in.`);
  else say('status', 'Your email address is confirmed. You can now log in to the app.');
}
