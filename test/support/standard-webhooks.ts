/**
 * The Standard Webhooks libraries' test vector (signed at 1614265330, i.e. in 2021), as a request. Its
 * secret is the workers runtime's SECRET_STANDARD_WEBHOOK_SECRET (vitest.config.ts); being old, it verifies
 * only with a timestamp tolerance of 0 (a replay).
 */
export const standardWebhook = {
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  headers: {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    "content-type": "application/json",
  },
  body: '{"test": 2432232314}',
};
