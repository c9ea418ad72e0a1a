/**
 * The access-rule section (`basic_auth_users`, `bearer_tokens`, `bearer_token_files`), shared by
 * `server.access` and any route configuration that wants its own rule. Passwords are accepted
 * only as bcrypt hashes: a plaintext password put there by mistake is refused without being
 * repeated in the message.
 */

import * as z from 'zod';
import type { AccessConfig } from '../server/access.js';
import { AT_KEY, nonEmptyText } from './fields.js';

/** `$2a$`, `$2b$` or `$2y$`, a two-digit cost from 04 to 31, then 22 salt and 31 hash characters. */
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

const BCRYPT_MESSAGE =
  'must be a bcrypt hash ($2a$, $2b$ or $2y$, a cost from 04 to 31, then 53 characters; ' +
  'e.g. from `htpasswd -nbBC 10 USER PASSWORD`); plaintext passwords are not accepted';

const users = z.record(z.string(), z.string()).superRefine((map, ctx) => {
  for (const [user, hash] of Object.entries(map)) {
    if (user === '' || user.includes(':')) {
      const message = `user name ${JSON.stringify(user)} is not usable with Basic auth (empty or contains ":")`;
      ctx.addIssue({ code: 'custom', path: [user], message, params: AT_KEY });
    }
    if (!BCRYPT_HASH.test(hash)) {
      ctx.addIssue({ code: 'custom', path: [user], message: `password hash for user ${JSON.stringify(user)} ${BCRYPT_MESSAGE}` });
    }
  }
});

export const accessSchema = z
  .strictObject({
    /** User name → bcrypt hash of the password. */
    basic_auth_users: users.optional(),
    bearer_tokens: z.array(nonEmptyText).optional(),
    /** Each file holds one token; read at start. */
    bearer_token_files: z.array(nonEmptyText).optional(),
  })
  .superRefine((a, ctx) => {
    const count =
      Object.keys(a.basic_auth_users ?? {}).length + (a.bearer_tokens?.length ?? 0) + (a.bearer_token_files?.length ?? 0);
    // An empty rule would either lock everyone out or let everyone in; neither is what was meant.
    if (count === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'an access rule needs at least one entry in basic_auth_users, bearer_tokens or bearer_token_files',
      });
    }
  });

export type AccessSchemaOutput = z.output<typeof accessSchema>;

// The server builds rules from this shape; a drift between the two must fail to compile.
const _sameShape: AccessConfig = {} as AccessSchemaOutput;
void _sameShape;
