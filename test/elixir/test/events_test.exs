defmodule PhnCheck.EventsTest do
  @moduledoc """
  `ProcessHubNative.Events` reads `pending_operations` in every layout the drop-in gives
  it, a bare tracker (before the first store wraps it) included, and never fails where
  the drop-in alone would not.
  """
  use ExUnit.Case, async: true

  alias ProcessHubNative.Events

  test "a response or a cleanup on a bare tracker is the drop-in's, with no event" do
    state = %{hub_id: :events_hub, pending_operations: :phn_tracker.new()}
    ref = make_ref()

    assert {:noreply, %{pending_operations: {:phn_pending, _, ops, _, _}}} =
             Events.handle_response(state, ref, node(), [])

    assert ops == %{}
    assert %{pending_operations: {:phn_pending, _, %{}, %{}, _}} = Events.cleanup_expired(state)
  end
end
