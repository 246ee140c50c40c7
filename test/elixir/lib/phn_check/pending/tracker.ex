defmodule PhnCheck.Pending.Tracker do
  @moduledoc """
  TODO(issue 3, lead): pending operations in the native `phn_tracker` table.

  To wire it (tried in a scratch copy against the in-progress `phn_rm_tracker`, where the
  `mode: :tracker` test passed with all 2 500 children reported):

    * `available?/0` → `Code.ensure_loaded?(:phn_rm_tracker)`;
    * `init/2` → `Map.put(state, :pending_operations, :phn_tracker.new())` (the
      coordinator owns the tracker);
    * `prepare/2` → the operation unchanged (`phn_rm_tracker` counts the split chunks
      itself, with `phn_request_manager:split/1`, as `PhnCheck.Distributor.dispatch/2`
      splits them);
    * `store/2`, `get/2`, `handle_response/4`, `handle_await/3`, `handle_timeout/3` →
      the `:phn_rm_tracker` functions of the same name;
    * `cleanup_expired/1` → `:phn_rm_tracker.cleanup_expired(state, now_ms)`;
    * `count/1` → `:phn_tracker.size(state.pending_operations)`; `refs/1` → the tracked
      references (the map-mode-only tests use it; the tracker test does not).

  Then the `@tag mode: :tracker` test in `test/coordinator_test.exs` runs (test_helper
  excludes a mode while its `available?/0` is false).
  """
  @behaviour PhnCheck.Pending

  @impl true
  def available?, do: false

  @impl true
  def init(_state, _opts), do: todo()
  @impl true
  def prepare(_state, _op), do: todo()
  @impl true
  def store(_state, _op), do: todo()
  @impl true
  def handle_response(_state, _ref, _node, _results), do: todo()
  @impl true
  def handle_await(_state, _ref, _from), do: todo()
  @impl true
  def handle_timeout(_state, _ref, _from), do: todo()
  @impl true
  def cleanup_expired(_state), do: todo()
  @impl true
  def handle_info(_msg, _state), do: :unhandled
  @impl true
  def get(_state, _ref), do: todo()
  @impl true
  def refs(_state), do: todo()
  @impl true
  def count(_state), do: todo()

  defp todo, do: raise("PhnCheck.Pending.Tracker: phn_tracker mode is not wired yet (issue 3)")
end
