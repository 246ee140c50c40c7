defmodule PhnCheck.Pending.CNode do
  @moduledoc """
  Responses collected by the C-node (`phn_cnode`, `priv/phn_cnode`).

    * `init/2` starts `phn_cnode` on this node if it is not running (one per BEAM node,
      shared by the node's coordinators, left running when a coordinator stops; the
      C-node exits with its VM) and keeps the C-node's name in `state.cnode`.
    * `prepare/2`, before dispatch: composes the sub-requests with
      `:phn_request_manager.compose_sub_requests(op, cnode)`, so every target casts its
      `{:operation_response, ref, node, results}` to `{hub_id, cnode}`, and registers the
      operation with the C-node: each node with the number of split chunks it owes
      (`:phn_rm_tracker.expected/1`) and a collection window (below). If the C-node
      refuses (down, at a limit) the operation is composed to this node instead and runs
      in map mode.
    * The C-node answers once per operation: `{:phn_cnode_op, ref, {:complete, [{node,
      results}]}}` (every chunk of every node, concatenated), `{:expired, collected,
      missing}` at the end of the window, or `{:error, reason}` (`:cnode_down`,
      `:enomem`, `:undecodable`: the operation ends with nothing collected). `handle_info/2`
      merges the results into the sub-requests (`:phn_rm_tracker.view/1`: where map mode
      would have put them), finalizes with the handler and replies to the awaiter. On
      `complete` the operation is gone, as in map mode.
    * `state.pending_operations` stays ProcessHub's map `%{ref => %RequestManager{}}`;
      `state.cnode_ops` is `%{ref => deadline_ms | :done}` for the operations the C-node
      collects (`:done`: it reported `expired` or went down and nobody awaited yet).

  Where the outcome differs from map mode (on purpose, or because the results live in the
  C-node until it reports):

    * Every chunk of every node is reported (the fix of the split-chunk quirk), and
      responses from nodes outside the operation are ignored (by the C-node).
    * The collection window starts at dispatch: `timeout` (the Future's, 10 000 ms by the
      coordinator's defaults) for an awaitable operation, the operation's lifetime
      (`request_timeout`) otherwise; it never outlives `expires_at`. An await after the
      window answers at once with what the C-node collected; an await timer that fires
      first waits up to 1 000 ms more for the C-node's report (its window ends no
      later than the timer), then answers with nothing collected.
    * `timeout: 0` answers at once with nothing collected (the results are in the
      C-node), and cancels the operation there.
    * `get/2` of an operation still collecting returns it without results.
  """
  @behaviour PhnCheck.Pending

  require Logger

  @grace_ms 1000
  @default_future_timeout 5000

  @impl true
  def available? do
    Code.ensure_loaded?(:phn_cnode) and File.exists?(executable())
  end

  @doc "The C-node executable that `phn_cnode` runs."
  def executable do
    case :code.priv_dir(:process_hub_native) do
      {:error, _} -> ""
      dir -> Path.join(to_string(dir), "phn_cnode")
    end
  end

  @doc """
  Starts `phn_cnode` on this node unless it runs (not linked to the caller: the node's
  C-node outlives any one coordinator). Returns the C-node's node name; raises
  `phn_cnode did not start: reason` when `start_cnode/1` says `{:error, reason}`.
  """
  def ensure_cnode!(cnode_opts \\ %{}) do
    case start_cnode(cnode_opts) do
      {:ok, cnode} -> cnode
      {:error, reason} -> raise "phn_cnode did not start: #{inspect(reason)}"
    end
  end

  @doc """
  Starts `phn_cnode` on this node unless it runs: `{:ok, cnode}` (the C-node's node
  name), or `{:error, reason}` as `:phn_cnode.start_link/1` answered it: a refusal before
  anything starts (`:not_distributed`, `:no_cookie`) or a start that failed
  (`:cnode_not_ready`, ...). The caller's links, trap_exit flag and mailbox are left as
  they were.
  """
  def start_cnode(cnode_opts \\ %{}) do
    if Process.whereis(:phn_cnode) == nil do
      case start_unlinked(Map.new(cnode_opts)) do
        :ok -> {:ok, :phn_cnode.cnode()}
        {:error, {:already_started, _}} -> {:ok, :phn_cnode.cnode()}
        {:error, _} = error -> error
      end
    else
      {:ok, :phn_cnode.cnode()}
    end
  end

  # start_link is phn_cnode's only start. It runs in a process of its own, which traps
  # exits: a server that fails in init exits after it answered, and that exit signal goes
  # to the helper, not the caller; a refusal before anything is spawned sends none. The
  # helper returns start_link's answer as its exit reason, after unlinking a started owner.
  defp start_unlinked(opts) do
    {_pid, ref} =
      spawn_monitor(fn ->
        Process.flag(:trap_exit, true)

        case :phn_cnode.start_link(opts) do
          {:ok, owner} ->
            Process.unlink(owner)
            exit({:phn_cnode_start, :ok})

          other ->
            exit({:phn_cnode_start, other})
        end
      end)

    receive do
      {:DOWN, ^ref, :process, _, {:phn_cnode_start, result}} -> result
      {:DOWN, ^ref, :process, _, reason} -> {:error, reason}
    end
  end

  @impl true
  def init(state, opts) do
    cnode = ensure_cnode!(Keyword.get(opts, :cnode_opts, %{}))

    state
    |> Map.put(:pending_operations, %{})
    |> Map.put(:cnode, cnode)
    |> Map.put(:cnode_ops, %{})
  end

  @impl true
  def prepare(%{rm: rm, cnode: cnode, hub_id: hub_id}, op) do
    {:ok, op} = :phn_request_manager.compose_sub_requests(op, cnode)
    expected = :phn_rm_tracker.expected(op)

    case :phn_cnode.register_operation(op.transaction_id, hub_id, expected, window(op)) do
      :ok ->
        op

      {:error, reason} ->
        Logger.warning("C-node refused operation (#{inspect(reason)}): collected here, in map mode")
        {:ok, op} = rm.compose_sub_requests(op)
        op
    end
  end

  @impl true
  def store(%{cnode: cnode} = state, op) do
    state = put_op(state, op)

    if Enum.any?(op.sub_requests, &(&1.originating_node == cnode)) do
      deadline = System.monotonic_time(:millisecond) + window(op)
      %{state | cnode_ops: Map.put(state.cnode_ops, op.transaction_id, deadline)}
    else
      state
    end
  end

  # A response sent to the coordinator itself: operations the C-node collects do not take
  # it (their targets answer the C-node); the others run in map mode.
  @impl true
  def handle_response(%{rm: rm} = state, ref, node, results) do
    if Map.has_key?(state.cnode_ops, ref),
      do: {:noreply, state},
      else: rm.handle_response(state, ref, node, results)
  end

  @impl true
  def handle_await(%{rm: rm} = state, ref, from) do
    case {Map.get(state.pending_operations, ref), Map.get(state.cnode_ops, ref)} do
      {nil, _} ->
        {:reply, {:error, :pending_request_not_found}, state}

      {_op, nil} ->
        rm.handle_await(state, ref, from)

      {op, collecting} ->
        timeout = Keyword.get(op.options, :timeout, @default_future_timeout)

        if collecting == :done or timeout == 0 do
          {:reply, rm.finalize(op, state), drop(state, ref)}
        else
          Process.send_after(self(), {:await_timeout, ref, from}, timeout)
          {:noreply, put_op(state, rm.set_awaiter(op, from))}
        end
    end
  end

  @impl true
  def handle_timeout(%{rm: rm} = state, ref, from) do
    case {Map.get(state.pending_operations, ref), Map.get(state.cnode_ops, ref)} do
      {nil, _} ->
        {:noreply, state}

      {_op, nil} ->
        rm.handle_timeout(state, ref, from)

      {%{awaiter: ^from} = op, collecting} ->
        now = System.monotonic_time(:millisecond)

        if is_integer(collecting) and now < collecting + @grace_ms do
          # The C-node's window ends no later than this timer: its report is due.
          Process.send_after(self(), {:await_timeout, ref, from}, collecting + @grace_ms - now)
          {:noreply, state}
        else
          GenServer.reply(from, rm.finalize(op, state))
          {:noreply, drop(state, ref)}
        end

      _ ->
        {:noreply, state}
    end
  end

  @impl true
  def cleanup_expired(%{rm: rm, pending_operations: pending} = state) do
    now = System.monotonic_time(:millisecond)

    pending
    |> Enum.filter(fn {_ref, op} -> rm.expired?(op, now) end)
    |> Enum.reduce(state, fn {ref, _op}, acc -> drop(acc, ref) end)
  end

  @impl true
  def handle_info({:phn_cnode_op, ref, body}, state) do
    case {Map.get(state.pending_operations, ref), Map.get(state.cnode_ops, ref)} do
      {op, deadline} when op != nil and is_integer(deadline) -> {:noreply, report(state, op, body)}
      _ -> {:noreply, state}
    end
  end

  def handle_info(_msg, _state), do: :unhandled

  @impl true
  def get(%{pending_operations: pending}, ref), do: Map.get(pending, ref)

  @impl true
  def refs(%{pending_operations: pending}), do: Map.keys(pending)

  @impl true
  def count(%{pending_operations: pending}), do: map_size(pending)

  ## Internals

  defp report(%{rm: rm} = state, op, {:complete, collected}) do
    op = merge(op, collected, [])
    result = rm.finalize(op, state)
    if op.awaiter, do: GenServer.reply(op.awaiter, result)
    forget(state, op.transaction_id)
  end

  defp report(state, op, {:expired, collected, missing}), do: finished(state, merge(op, collected, missing))
  # cnode_down (the C-node died), enomem (it could not build the result), undecodable (the
  # result did not decode here), or any later reason: nothing collected reaches us.
  defp report(state, op, {:error, _reason}), do: finished(state, op)

  # The C-node is done with the operation but not every node answered: the awaiter gets
  # what was collected now; without one, the next await does (or cleanup drops it).
  defp finished(%{rm: rm} = state, op) do
    if op.awaiter do
      GenServer.reply(op.awaiter, rm.finalize(op, state))
      forget(state, op.transaction_id)
    else
      state = put_op(state, op)
      %{state | cnode_ops: Map.put(state.cnode_ops, op.transaction_id, :done)}
    end
  end

  defp merge(op, collected, missing),
    do: :phn_rm_tracker.view(%{meta: op, collected: collected, missing: missing})

  defp put_op(state, op),
    do: %{state | pending_operations: Map.put(state.pending_operations, op.transaction_id, op)}

  # Removes the operation, cancelling it at the C-node if it still collects there.
  defp drop(state, ref) do
    if is_integer(Map.get(state.cnode_ops, ref)), do: :phn_cnode.cancel_operation(ref)
    forget(state, ref)
  end

  defp forget(state, ref) do
    %{
      state
      | pending_operations: Map.delete(state.pending_operations, ref),
        cnode_ops: Map.delete(state.cnode_ops, ref)
    }
  end

  # How long the C-node collects: the await window of an awaitable operation, its lifetime
  # otherwise, never past expires_at.
  defp window(op) do
    life = max(op.expires_at - System.monotonic_time(:millisecond), 0)

    if Keyword.get(op.options, :awaitable, false),
      do: min(Keyword.get(op.options, :timeout, @default_future_timeout), life),
      else: life
  end
end
