defmodule ProcessHub.Request.Handler.PidsUnregisterRequest do
  @moduledoc """
  Stand-in for `PidsUnregisterRequest` (REFERENCE.md §3.4): `[{child_id, [node]}]` to
  drop from the other nodes' registries.
  """
  @type t :: %__MODULE__{removable_cid_nodes: [{term(), [node()]}] | nil, on_empty: atom()}
  defstruct removable_cid_nodes: nil, on_empty: :churn

  def new(removable_cid_nodes, opts \\ []) do
    %__MODULE__{
      removable_cid_nodes: removable_cid_nodes,
      on_empty: Keyword.get(opts, :on_empty, :churn)
    }
  end
end
