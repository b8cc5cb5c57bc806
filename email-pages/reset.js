// The password reset link's page: the new password twice, checked here against the provider's
// length rules (6 to 128 characters, as the server enforces) before the one-time token is spent.
import { INCOMPLETE_LINK, call, say, takeTokens } from './flow.js';

const MIN = 6;
const MAX = 128;
const form = document.getElementById('reset');
const password = document.getElementById('password');
const repeat = document.getElementById('repeat');
const button = form.querySelector('button');
const tokens = takeTokens();

function problemWith(pw, again) {
  if (pw.length < MIN) return [password, `The password must be at least ${MIN} characters long.`];
  if (pw.length > MAX) return [password, `The password must be at most ${MAX} characters long.`];
  if (pw !== again) return [repeat, 'The two passwords are not the same.'];
  return null;
}

if (!tokens) {
  say('error', INCOMPLETE_LINK);
} else {
  form.hidden = false;
  password.focus();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const input of [password, repeat]) input.removeAttribute('aria-invalid');
    const problem = problemWith(password.value, repeat.value);
    if (problem) {
      problem[0].setAttribute('aria-invalid', 'true');
      say('error', problem[1]);
      problem[0].focus();
      return;
    }
    button.disabled = true;
    say('status', 'Changing your password…');
    const failed = await call('reset', { ...tokens, password: password.value });
    button.disabled = false;
    if (failed) {
      say('error', failed);
      return;
    }
    form.hidden = true;
    form.reset();
    say('status', 'Your password is changed. Log in to the app with your new password.');
  });
}
