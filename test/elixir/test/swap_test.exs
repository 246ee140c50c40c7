defmodule PhnCheck.SwapTest do
  @moduledoc """
  Calling the drop-in directly (README, "Using it without `install/1`"): code written
  against ProcessHub's RequestManager keeps its calls when an alias points at
  `:phn_request_manager`.
  """
  use ExUnit.Case, async: true

  alias :phn_request_manager, as: RequestManager
  alias ProcessHub.Request.Handler.StartChildrenRequest

  test "alias :phn_request_manager, as: RequestManager" do
    state = %{hub_id: :swap_hub, pending_operations: %{}}
    children = for i <- 1..1500, do: %{child_id: i, nodes: [node()]}

    op = RequestManager.new(state, StartChildrenRequest, [{node(), children}], awaitable: true)
    assert is_struct(op, ProcessHub.Service.RequestManager)
    {:ok, op} = RequestManager.compose_sub_requests(op)
    state = RequestManager.store(state, op)

    [sub] = op.sub_requests
    assert [first, second] = RequestManager.split(sub)
    assert length(first.children) == 1000 and length(second.children) == 500

    results = Enum.map(second.children, &{&1.child_id, {:ok, self()}})
    assert {:noreply, state} = RequestManager.handle_response(state, op.transaction_id, node(), results)
    assert state.pending_operations == %{}
  end
end
