defmodule ProcessHub.Constant.StorageKey do
  @moduledoc """
  Stand-in for `ProcessHub.Constant.StorageKey`: the misc-storage keys that
  `RequestManager.load_strategies/1` reads (REFERENCE.md §2.5, §4.4).
  """
  def strsyn, do: :synchronization_strategy
  def strdist, do: :distribution_strategy
  def strred, do: :redundancy_strategy
  def strmigr, do: :migration_strategy
  def strpart, do: :partition_tolerance_strategy
  def rqcli, do: :req_cleanup_interval
  def hn, do: :hub_nodes
end
