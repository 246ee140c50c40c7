defmodule ProcessHub.Service.RequestManager do
  @moduledoc """
  Stand-in for ProcessHub's `ProcessHub.Service.RequestManager` struct (v0.5.0-beta),
  written from REFERENCE.md §1: the module *is* the operation struct, with exactly
  these ten fields. The functions are `:phn_request_manager`'s (the drop-in under test);
  this module only gives the struct its name and defaults.
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
end
