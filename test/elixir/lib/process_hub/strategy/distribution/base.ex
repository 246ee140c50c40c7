defprotocol ProcessHub.Strategy.Distribution.Base do
  @moduledoc """
  Stand-in for ProcessHub's distribution strategy protocol, reduced to what
  RequestManager (`distribution_signature/2`, for the migration and contraction
  factories) and the check's coordinator (`belongs_to/4`) call.
  """

  @doc "A term that changes whenever the placement of children would change."
  def distribution_signature(strategy, hub)

  @doc "The nodes a child belongs to."
  def belongs_to(strategy, hub, child_id, replication_factor)
end
