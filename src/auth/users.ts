import crypto from "node:crypto";
import type { Db } from "../db/client.ts";
import {
  countAdmins,
  deleteUser,
  findUserById,
  findUserByUsername,
  immediate,
  insertUser,
  listUsers,
  updateUser,
  type Role,
  type UserRow,
} from "../db/users.ts";
import { ClientError } from "../errors.ts";

/**
 * Dashboard users: password policy, bcrypt hashing and the user operations the admin API and the
 * CLI share. There is never a default user or password.
 */
export type { Role, UserRow };
export const ROLES = ["admin", "viewer"] as const satisfies readonly Role[];

/** Production bcrypt cost (BUN-NOTES §7: ~300 ms per hash on 2 cores). */
export const BCRYPT_COST = 12;
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;
const USERNAME = /^[a-z0-9][a-z0-9._@+-]{0,63}$/;

export type PasswordHasher = {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /** A hash of the same cost whose password nobody knows (checked for unknown usernames). */
  dummyHash?: string;
};

/**
 * A cost-12 bcrypt hash of a random, discarded password: verifying against it takes as long as
 * against a real user's hash, without spending a hash at every start.
 */
const DUMMY_HASH_12 = "$2b$12$Ivxd7QSw5.2toxKU3rtS3.Vk0tAL.5HH8JGas3qHLYyTSS5R/.xuC";

/** bcrypt through `Bun.password`. `cost` other than 12 is for tests only. */
export function bcryptHasher(cost = BCRYPT_COST): PasswordHasher {
  return {
    dummyHash: cost === 12 ? DUMMY_HASH_12 : undefined,
    hash: (password) => Bun.password.hash(password, { algorithm: "bcrypt", cost }),
    verify: async (password, hash) => {
      try {
        return await Bun.password.verify(password, hash);
      } catch {
        return false;
      }
    },
  };
}

/** What the API shows for a user: never the hash. */
export type PublicUser = { id: string; username: string; role: Role; created_at: string; updated_at: string };
export function publicUser(row: UserRow): PublicUser {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    created_at: new Date(row.createdAt).toISOString(),
    updated_at: new Date(row.updatedAt).toISOString(),
  };
}

/**
 * Usernames are case-insensitive (stored lowercase, so "Admin" cannot impersonate "admin"):
 * 1–64 characters of letters, digits and `. _ @ + -`. Throws a 400 ClientError otherwise.
 */
export function normalizeUsername(raw: string, param = "username"): string {
  const name = raw.trim().toLowerCase();
  if (!USERNAME.test(name)) {
    throw new ClientError(400, "Usernames are 1-64 characters: letters, digits and . _ @ + - (starting with a letter or digit).", "invalid_request_error", param, "invalid_username");
  }
  return name;
}

/** Enforces the password length policy (the message never contains the password). */
export function checkPassword(password: string, param = "password"): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new ClientError(400, `Passwords must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long.`, "invalid_request_error", param, "invalid_password");
  }
}

export function newUserId(): string {
  return "usr_" + crypto.randomBytes(8).toString("hex");
}

const notFound = () => new ClientError(404, "No such user.", "invalid_request_error", "id", "user_not_found");
const lastAdmin = () =>
  new ClientError(409, "This is the last admin: create or promote another admin first.", "invalid_request_error", null, "last_admin");

/** User operations over the database. Every read goes to SQLite: nothing is cached. */
export class Users {
  private dummyHash?: Promise<string>;

  constructor(
    private readonly db: Db,
    private readonly hasher: PasswordHasher,
    private readonly now: () => number = Date.now,
  ) {}

  /** Prepares the dummy hash for unknown usernames (only hashes when the hasher has none built in). */
  warmUp(): void {
    this.dummyHash ??= this.hasher.dummyHash ? Promise.resolve(this.hasher.dummyHash) : this.hasher.hash(crypto.randomBytes(24).toString("base64url"));
  }

  list(): UserRow[] {
    return listUsers(this.db);
  }

  get(id: string): UserRow {
    const row = findUserById(this.db, id);
    if (!row) throw notFound();
    return row;
  }

  /** Creates a user (409 when the name is taken). */
  async create(input: { username: string; password: string; role: Role }): Promise<UserRow> {
    const username = normalizeUsername(input.username);
    checkPassword(input.password);
    const passwordHash = await this.hasher.hash(input.password);
    const now = this.now();
    const row: UserRow = { id: newUserId(), username, passwordHash, role: input.role, createdAt: now, updatedAt: now };
    if (!insertUser(this.db, row)) {
      throw new ClientError(409, "That username is taken.", "invalid_request_error", "username", "username_taken");
    }
    return row;
  }

  /**
   * The user for this username and password, or undefined. Unknown (or malformed) usernames are
   * checked against a dummy hash, so the answer takes as long as for a wrong password.
   */
  async authenticate(username: string, password: string): Promise<UserRow | undefined> {
    let row: UserRow | undefined;
    try {
      row = findUserByUsername(this.db, normalizeUsername(username));
    } catch {}
    if (password.length > MAX_PASSWORD_LENGTH) return undefined;
    this.warmUp();
    const ok = await this.hasher.verify(password, row?.passwordHash ?? (await this.dummyHash!));
    return row && ok ? row : undefined;
  }

  /** Checks a password against a known user (e.g. the current password before a change). */
  async verifyPassword(row: UserRow, password: string): Promise<boolean> {
    if (password.length > MAX_PASSWORD_LENGTH) return false;
    return this.hasher.verify(password, row.passwordHash);
  }

  /** Sets a new password; the caller revokes sessions. */
  async setPassword(id: string, password: string): Promise<UserRow> {
    checkPassword(password);
    this.get(id);
    const passwordHash = await this.hasher.hash(password);
    return updateUser(this.db, id, { passwordHash }, this.now()) ?? throwNotFound();
  }

  /** Changes a role; demoting the last admin is refused (409). */
  setRole(id: string, role: Role): { row: UserRow; changed: boolean } {
    return immediate(this.db, (tx) => {
      const current = findUserById(tx, id);
      if (!current) throw notFound();
      if (current.role === role) return { row: current, changed: false };
      if (current.role === "admin" && countAdmins(tx) <= 1) throw lastAdmin();
      return { row: updateUser(tx, id, { role }, this.now())!, changed: true };
    });
  }

  /** Removes a user and, by cascade, their sessions; removing the last admin is refused (409). */
  remove(id: string): UserRow {
    return immediate(this.db, (tx) => {
      const current = findUserById(tx, id);
      if (!current) throw notFound();
      if (current.role === "admin" && countAdmins(tx) <= 1) throw lastAdmin();
      deleteUser(tx, id);
      return current;
    });
  }
}

function throwNotFound(): never {
  throw notFound();
}
