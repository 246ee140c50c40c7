defmodule PhnCheck.Pending do
  @moduledoc """
  Where a coordinator keeps its pending operations, and who answers for them. The
  coordinator (`PhnCheck.Coordinator`) only talks to this behaviour, so the container
  is pluggable:

    * `:map` — `PhnCheck.Pending.Map`: ProcessHub's own way (REFERENCE.md §4.4), a map
      `%{transaction_id => %RequestManager{}}` in `state.pending_operations`, handled by
      a RequestManager module (`:phn_request_manager`, or the plain-Erlang oracle
      `:phn_request_manager_erl`). Keeps ProcessHub's quirks (split chunks lose results).
    * `:tracker` — `PhnCheck.Pending.Tracker`: the native `phn_tracker`
      (`:phn_request_manager` in tracker mode). Every chunk reported.
    * `:cnode` — `PhnCheck.Pending.CNode`: the targets answer this node's C-node
      (`phn_cnode`), which collects every chunk and sends the coordinator one message
      per operation.

  The `state` is the coordinator's state map (it holds `pending_operations`, `rm` — the
  RequestManager module — and the hub fields); callbacks return it updated.
  """

  @type state :: map()
  @type from :: GenServer.from()

  @doc "True when the mode can run on this build (its modules are present)."
  @callback available?() :: boolean()

  @doc "Sets up `state.pending_operations` (and whatever the mode needs) at coordinator init."
  @callback init(state, opts :: keyword()) :: state

  @doc """
  Called with a composed operation before its sub-requests are split and dispatched.
  The map and tracker modes return it unchanged; the C-node mode points the sub-requests'
  `originating_node` at the C-node (so that targets answer it directly) and registers
  the operation there.
  """
  @callback prepare(state, op :: struct()) :: struct()

  @doc "`RequestManager.store/2`: the operation is now pending."
  @callback store(state, op :: struct()) :: state

  @doc "`handle_cast({:operation_response, ref, node, results}, state)`."
  @callback handle_response(state, ref :: reference(), node(), results :: list()) ::
              {:noreply, state}

  @doc "`handle_call({:await_result, ref}, from, state)`."
  @callback handle_await(state, ref :: reference(), from) ::
              {:reply, term(), state} | {:noreply, state}

  @doc "`handle_info({:await_timeout, ref, from}, state)`."
  @callback handle_timeout(state, ref :: reference(), from) :: {:noreply, state}

  @doc "The cleanup tick: drops expired operations."
  @callback cleanup_expired(state) :: state

  @doc "Any other message the coordinator receives (e.g. a C-node completion); `:unhandled` if not ours."
  @callback handle_info(msg :: term(), state) :: {:noreply, state} | :unhandled

  @doc "The pending operation under `ref` (a `%RequestManager{}`), or `nil`."
  @callback get(state, ref :: reference()) :: struct() | nil

  @doc "The references of the pending operations."
  @callback refs(state) :: [reference()]

  @doc "Number of pending operations."
  @callback count(state) :: non_neg_integer()

  @modes [:map, :tracker, :cnode]

  def modes, do: @modes

  @spec module(:map | :tracker | :cnode) :: module()
  def module(:map), do: PhnCheck.Pending.Map
  def module(:tracker), do: PhnCheck.Pending.Tracker
  def module(:cnode), do: PhnCheck.Pending.CNode

  def available?(mode) when mode in @modes, do: module(mode).available?()
end
