defmodule ProcessHub.Service.RequestManager do
  @moduledoc """
  Stand-in for ProcessHub's `ProcessHub.Service.RequestManager` struct (v0.5.0-beta),
  written from REFERENCE.md §1: the module *is* the operation struct, with exactly
  these ten fields, and it has every function of ProcessHub's RequestManager, each
  running the plain-Erlang oracle `:phn_request_manager_erl` (ProcessHub's behaviour,
  written from REFERENCE.md). So it stands for the module `ProcessHubNative.install/1`
  replaces: a coordinator that calls `ProcessHub.Service.RequestManager` by name runs
  the oracle until the install, the native drop-in after it, and the oracle again after
  `ProcessHubNative.uninstall/0` (test/install_test.exs counts the calls).
  """

  @type t :: %__MODULE__{
          transaction_id: reference() | nil,
          hub_id: atom() | nil,
          handler: module() | nil,
          nodes_data: [{node(), [map()]}] | nil,
          sub_requests: [struct()],
          completed_nodes: MapSet.t(node()),
          expires_at: integer() | nil,
          awaiter: {pid(), term()} | nil,
          future: ProcessHub.Future.t() | nil,
          options: keyword()
        }

  defstruct transaction_id: nil,
            hub_id: nil,
            handler: nil,
            nodes_data: nil,
            sub_requests: [],
            completed_nodes: MapSet.new(),
            expires_at: nil,
            awaiter: nil,
            future: nil,
            options: []

  @oracle :phn_request_manager_erl

  defdelegate new(hub, handler, nodes_data, opts), to: @oracle
  defdelegate compose_sub_requests(op), to: @oracle
  defdelegate process_response(op, node, results), to: @oracle
  defdelegate finalize(op, state), to: @oracle
  defdelegate store(state, op), to: @oracle
  defdelegate get(state, ref), to: @oracle
  defdelegate update(state, op), to: @oracle
  defdelegate remove(state, ref), to: @oracle
  defdelegate cleanup_expired(state), to: @oracle
  defdelegate handle_response(state, ref, node, results), to: @oracle
  defdelegate handle_await(state, ref, from), to: @oracle
  defdelegate handle_timeout(state, ref, from), to: @oracle
  defdelegate expired?(op), to: @oracle
  defdelegate all_responded?(op), to: @oracle
  defdelegate set_awaiter(op, from), to: @oracle
  defdelegate record_response(op, node, results, field), to: @oracle
  defdelegate with_partition_check(hub, fun), to: @oracle
  defdelegate load_strategies(hub), to: @oracle
  defdelegate send_response(type, opts, results), to: @oracle
  defdelegate request_to_opts(req), to: @oracle
  defdelegate migration_request(hub, node, children), to: @oracle
  defdelegate migration_request(hub, node, children, opts), to: @oracle
  defdelegate contraction_request(hub, children), to: @oracle
  defdelegate contraction_request(hub, children, opts), to: @oracle
  defdelegate populate_forward(forward, targets, child), to: @oracle
  defdelegate split(req), to: @oracle
end
