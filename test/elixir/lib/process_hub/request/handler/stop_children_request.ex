defmodule ProcessHub.Request.Handler.StopChildrenRequest do
  @moduledoc """
  Stand-in for ProcessHub's `StopChildrenRequest` handler (REFERENCE.md §3.2): the
  struct, `new/3`, `aggregate_results/1`, `post_process/3`, `response_type/0`.
  """

  alias ProcessHub.Service.RequestManager
  alias ProcessHub.StopResult

  @routing_keys [:reply_to, :transaction_id, :hub_id, :originating_node]

  @type t :: %__MODULE__{}

  defstruct transaction_id: nil,
            hub_id: nil,
            originating_node: nil,
            reply_to: nil,
            node: nil,
            children: nil,
            results: nil,
            options: [],
            status: :pending

  def new(%RequestManager{options: opts} = op, target_node, children) do
    %__MODULE__{
      transaction_id: op.transaction_id,
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
  `%StopResult{}` of all sub-requests. Unanswered children are *appended* as
  `{:error, :no_response}`, answers are prepended (the original's mixed order), then the
  operation's `not_found_children` are appended as `{:error, :not_found}`.
  """
  def aggregate_results(%{sub_requests: sub_requests, options: opts}) do
    not_found = Keyword.get(opts, :not_found_children, [])
    {stopped, errors} = Enum.reduce(sub_requests, {[], []}, &aggregate_sub_request/2)
    errors = errors ++ Enum.map(not_found, &{&1, {:error, :not_found}})

    %StopResult{
      status: if(errors == [], do: :ok, else: :error),
      stopped: stopped,
      errors: errors
    }
  end

  defp aggregate_sub_request(%{results: nil, children: children}, {stopped, errors}) do
    {stopped, errors ++ Enum.map(children, &{Map.get(&1, :child_id), {:error, :no_response}})}
  end

  defp aggregate_sub_request(%{results: results, node: node}, acc) do
    Enum.reduce(results, acc, fn
      {cid, :ok}, {stopped, errors} -> {[{cid, [node]} | stopped], errors}
      {cid, {:error, reason}}, {stopped, errors} -> {stopped, [{cid, reason} | errors]}
      {cid, other}, {stopped, errors} -> {stopped, [{cid, other} | errors]}
    end)
  end

  def post_process(_op, result, _hub), do: result
end
