import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { dateTime } from "../lib/format.ts";
import { currentUser } from "../lib/state.ts";
import type { DashboardUser } from "../lib/types.ts";
import { Badge, Confirm, Dialog, ErrorBox, Field, Loading, PageHeader, onValue, useAction, useLoad } from "../components/ui.tsx";

const MIN_PASSWORD = 12;

export function UsersPage() {
  const load = useLoad((signal) => api.get<{ data: DashboardUser[] }>("/api/users", signal).then((r) => r.data), []);
  const [creating, setCreating] = useState(false);
  const [resetting, setResetting] = useState<DashboardUser | null>(null);
  const [removing, setRemoving] = useState<DashboardUser | null>(null);
  const roleChange = useAction();
  const me = currentUser.value;

  const setRole = async (u: DashboardUser, role: string) => {
    const r = await roleChange.run(() => api.patch(`/api/users/${encodeURIComponent(u.id)}`, { role }), `${u.username} is now ${role === "admin" ? "an admin" : "a viewer"}`);
    if (r !== undefined) void load.reload();
  };

  return (
    <>
      <PageHeader title="Users" sub="Dashboard accounts. Admins manage everything; viewers can only look.">
        <button type="button" class="btn primary" onClick={() => setCreating(true)}>
          Add user
        </button>
      </PageHeader>
      <ErrorBox error={load.error ?? roleChange.error} onRetry={load.error ? load.reload : undefined} />
      {!load.data && load.loading && <Loading />}
      {load.data && (
        <div class="table-wrap card flush">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Role</th>
                <th scope="col" class="hide-sm">Created</th>
                <th scope="col" class="right">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {load.data.map((u) => (
                <tr key={u.id} data-user={u.username}>
                  <th scope="row">
                    {u.username} {u.id === me?.id && <Badge tone="info">you</Badge>}
                  </th>
                  <td>
                    <select aria-label={`Role of ${u.username}`} value={u.role} disabled={roleChange.busy} onChange={onValue((v) => v !== u.role && setRole(u, v))}>
                      <option value="admin">admin</option>
                      <option value="viewer">viewer</option>
                    </select>
                  </td>
                  <td class="hide-sm">{dateTime(u.created_at)}</td>
                  <td class="right nowrap">
                    <button type="button" class="btn small" onClick={() => setResetting(u)}>
                      Reset password
                    </button>{" "}
                    <button type="button" class="btn small danger" onClick={() => setRemoving(u)} disabled={u.id === me?.id} title={u.id === me?.id ? "You cannot remove yourself" : undefined}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && (
        <UserForm
          onClose={() => setCreating(false)}
          onSaved={() => {
            setCreating(false);
            void load.reload();
          }}
        />
      )}
      {resetting && <ResetPassword user={resetting} onClose={() => setResetting(null)} />}
      {removing && (
        <Confirm
          title={`Remove ${removing.username}?`}
          action="Remove user"
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api.del(`/api/users/${encodeURIComponent(removing.id)}`);
            void load.reload();
          }}
        >
          <p>Their sessions end at once. The audit log keeps their past actions.</p>
        </Confirm>
      )}
    </>
  );
}

function UserForm({ onClose, onSaved }: { onClose: () => void; onSaved: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("viewer");
  const { busy, error, setError, run } = useAction();
  const save = async () => {
    if (password.length < MIN_PASSWORD) return setError(`The password needs at least ${MIN_PASSWORD} characters.`);
    const r = await run(() => api.post("/api/users", { username: username.trim(), password, role }), `User ${username.trim()} added`);
    if (r !== undefined) onSaved();
  };
  return (
    <Dialog
      title="Add user"
      onClose={onClose}
      onSubmit={save}
      submit="Add user"
      busy={busy}
      error={error}
    >
      <Field label="Username">
        <input name="username" required value={username} onInput={onValue(setUsername)} autocomplete="off" />
      </Field>
      <Field label="Password" hint={`At least ${MIN_PASSWORD} characters. Share it safely; they can change it later.`}>
        <input name="password" type="password" required minLength={MIN_PASSWORD} value={password} onInput={onValue(setPassword)} autocomplete="new-password" />
      </Field>
      <Field label="Role">
        <select name="role" value={role} onChange={onValue(setRole)}>
          <option value="viewer">viewer — read-only</option>
          <option value="admin">admin — full control</option>
        </select>
      </Field>
    </Dialog>
  );
}

function ResetPassword({ user, onClose }: { user: DashboardUser; onClose: () => void }) {
  const [password, setPassword] = useState("");
  const { busy, error, setError, run } = useAction();
  const save = async () => {
    if (password.length < MIN_PASSWORD) return setError(`The password needs at least ${MIN_PASSWORD} characters.`);
    const r = await run(() => api.patch(`/api/users/${encodeURIComponent(user.id)}`, { password }), `Password of ${user.username} reset`);
    if (r !== undefined) onClose();
  };
  return (
    <Dialog
      title={`Reset the password of ${user.username}`}
      onClose={onClose}
      onSubmit={save}
      submit="Set password"
      busy={busy}
      error={error}
    >
      <p class="small muted">Their other sessions end; they sign in again with the new password.</p>
      <Field label="New password" hint={`At least ${MIN_PASSWORD} characters.`}>
        <input name="password" type="password" required minLength={MIN_PASSWORD} value={password} onInput={onValue(setPassword)} autocomplete="new-password" />
      </Field>
    </Dialog>
  );
}
