defmodule ProcessHub.Request.Handler.StartChildrenRequest do
  @moduledoc """
  Stand-in for ProcessHub's `StartChildrenRequest` handler (REFERENCE.md §3.1), written
  from the reference: the struct, `new/3` (built from an operation by
  `RequestManager.compose_sub_requests/1`), `aggregate_results/1`, `post_process/3` and
  `response_type/0`. The target-side `execute` lives in `PhnCheck.Worker`.
  """

  alias ProcessHub.Service.RequestManager
  alias ProcessHub.StartResult

  @routing_keys [:reply_to, :transaction_id, :hub_id, :originating_node]

  @type t :: %__MODULE__{}

  defstruct transaction_id: nil,
            request_signature: nil,
            hub_id: nil,
            originating_node: nil,
            reply_to: nil,
            node: nil,
            children: nil,
            results: nil,
            post_action: nil,
            options: [],
            status: :pending

  @doc "The sub-request of `op` for `target_node` (the coordinator's node is the origin)."
  def new(%RequestManager{options: opts} = op, target_node, children) do
    %__MODULE__{
      transaction_id: op.transaction_id,
      request_signature: Keyword.get(opts, :request_signature),
      hub_id: op.hub_id,
      originating_node: node(),
      reply_to: Keyword.get(opts, :reply_to),
      node: target_node,
      children: children,
      options: Keyword.drop(opts, @routing_keys),
      status: :dispatched
    }
  end

  def response_type, do: :operation_response

  @doc """
  Folds every sub-request's results into a `%StartResult{}`. Unanswered sub-requests
  make `{:error, :no_response}` errors; lists are built by prepending (so reversed).
  """
  def aggregate_results(%{sub_requests: sub_requests}) do
    {started, errors} = Enum.reduce(sub_requests, {[], []}, &aggregate_sub_request/2)

    %StartResult{
      status: if(errors == [], do: :ok, else: :error),
      started: started,
      errors: errors,
      rollback: false
    }
  end

  defp aggregate_sub_request(%{results: nil, children: children}, {started, errors}) do
    {started,
     Enum.reduce(children, errors, fn child, acc ->
       [{child_id(child), {:error, :no_response}} | acc]
     end)}
  end

  defp aggregate_sub_request(%{results: results, node: node}, acc) do
    Enum.reduce(results, acc, fn {cid, result}, {started, errors} ->
      case result do
        {:ok, pid} -> {[{cid, [{node, pid}]} | started], errors}
        {:error, reason} -> {started, [{cid, reason} | errors]}
        pid when is_pid(pid) -> {[{cid, [{node, pid}]} | started], errors}
      end
    end)
  end

  defp child_id(child) when is_map(child), do: Map.get(child, :child_id)
  defp child_id(_), do: nil

  @doc """
  With `on_failure: :rollback` and an error result, terminates every started child under
  the *local* distributed supervisor and drops it from the local registry (REFERENCE
  quirk: only the coordinator's node is touched), and sets `rollback: true`.
  """
  def post_process(%{options: opts}, %StartResult{status: status} = result, hub) do
    case Keyword.get(opts, :on_failure, :continue) do
      :rollback when status == :error ->
        rollback(result.started, hub)
        %StartResult{result | rollback: true}

      _ ->
        result
    end
  end

  defp rollback(started, hub) do
    dist_sup = get_in(hub, [Access.key(:procs, %{}), Access.key(:dist_sup)])
    registry = get_in(hub, [Access.key(:storage, %{}), Access.key(:registry)])

    for {cid, node_pids} <- started, {node, pid} <- node_pids, node == node() do
      if dist_sup, do: DynamicSupervisor.terminate_child(dist_sup, pid)
      if registry, do: :ets.delete(registry, cid)
    end

    :ok
  end
end
