# Operation "hostHealth": when the host last started, and whether each instance is back in service
# after a restart: its engine service running, the engine answering a query, every database ONLINE.
# Windows PowerShell 5.1 compatible.

function Invoke-HostHealthOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $instanceArgument = Get-OperationArgument -Arguments $Arguments -Name 'instances' -Optional -Default @()
    $instances = @($instanceArgument)
    $results = @()
    foreach ($instanceName in $instances) {
        $instance = [string]$instanceName
        $engineService = (Get-SqlInstanceServiceNames -Instance $instance)['engine']
        $running = (Get-ServiceStatus -Name $engineService) -eq 'Running'
        $answering = $false
        $offline = @()
        $problem = $null
        if ($running) {
            try {
                foreach ($database in @(Invoke-SqlDatabaseStateQuery -Instance $instance)) {
                    if ([string]$database['state'] -ne 'ONLINE') { $offline += ('{0} ({1})' -f $database['name'], $database['state']) }
                }
                $answering = $true
            } catch {
                $problem = $_.Exception.GetBaseException().Message
            }
        } else {
            $problem = 'service {0} is not running' -f $engineService
        }
        $results += [ordered]@{ instance = $instance; engineRunning = $running; answering = $answering; offlineDatabases = @($offline); problem = $problem }
    }
    return [ordered]@{ bootTime = (Get-LastBootTime); instances = @($results) }
}
