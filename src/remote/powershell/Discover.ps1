# Operation "discover": the SQL Server instances installed on the host, with their build, edition and
# services, and the failover cluster the host belongs to. Windows PowerShell 5.1 compatible.

function Invoke-DiscoverOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $instanceIds = Get-SqlInstanceIds
    $instances = New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($instanceName in @($instanceIds.Keys | Sort-Object)) {
        $facts = Get-SqlInstanceRegistryFacts -Instance ([string]$instanceName) -InstanceId ([string]$instanceIds[$instanceName])
        $facts['services'] = Get-SqlInstanceServices -Instance ([string]$instanceName)
        $instances.Add($facts)
    }
    return [ordered]@{
        instances = $instances.ToArray()
        cluster   = Get-FailoverClusterName
    }
}
