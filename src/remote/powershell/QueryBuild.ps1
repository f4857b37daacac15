# Operation "queryBuild": one instance's build from SERVERPROPERTY when its service runs, otherwise
# from the registry and sqlservr.exe (after a patch the service may still be starting, or stopped).
# Windows PowerShell 5.1 compatible.

function Invoke-QueryBuildOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $instance = [string](Get-OperationArgument -Arguments $Arguments -Name 'instance')
    $instanceIds = Get-SqlInstanceIds
    $instanceId = $null
    foreach ($name in @($instanceIds.Keys)) {
        if ([string]$name -eq $instance) { $instanceId = [string]$instanceIds[$name] }
    }
    if ($null -eq $instanceId) {
        throw (New-OperationException -Type 'InstanceNotFound' -Message ('SQL Server instance "{0}" is not installed on this host' -f $instance))
    }
    $engineService = (Get-SqlInstanceServiceNames -Instance $instance)['engine']
    $serviceState = Get-ServiceStatus -Name $engineService
    $fallbackReason = $null
    if ($serviceState -eq 'Running') {
        try {
            $row = Invoke-SqlServerPropertyQuery -Instance $instance
            return [ordered]@{
                build              = $row['ProductVersion']
                edition            = $row['Edition']
                productLevel       = $row['ProductLevel']
                productUpdateLevel = $row['ProductUpdateLevel']
                source             = 'sql'
                fallbackReason     = $null
            }
        } catch {
            $fallbackReason = 'SERVERPROPERTY query failed: ' + $_.Exception.GetBaseException().Message
        }
    } else {
        if ($null -eq $serviceState) { $serviceState = 'not installed' }
        $fallbackReason = 'service {0} is {1}' -f $engineService, $serviceState
    }
    $facts = Get-SqlInstanceRegistryFacts -Instance $instance -InstanceId $instanceId
    return [ordered]@{
        build              = $facts['build']
        edition            = $facts['edition']
        productLevel       = $facts['productLevel']
        productUpdateLevel = $null
        source             = 'registry'
        fallbackReason     = $fallbackReason
    }
}
