defmodule ProcessHub.Request.Handler.PidsRegisterRequest do
  @moduledoc """
  Stand-in for `PidsRegisterRequest` (REFERENCE.md §3.3): registry rows
  `%{child_id => {child_spec, [{node, pid}], metadata}}` propagated to the other nodes.
  """
  @type t :: %__MODULE__{children_data: map() | nil, durable: boolean()}
  defstruct children_data: nil, durable: false

  def new(children_data, opts \\ []) do
    %__MODULE__{children_data: children_data, durable: Keyword.get(opts, :durable, false)}
  end
end
