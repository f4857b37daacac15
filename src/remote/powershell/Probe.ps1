# Operation "probe": proves that a session runs operations, and returns its argument unchanged so that
# tests can check that every character survives the trip. Windows PowerShell 5.1 compatible.

function Invoke-ProbeOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    return [ordered]@{
        echo              = Get-OperationArgument -Arguments $Arguments -Name 'echo' -Optional
        computerName      = [System.Environment]::MachineName
        powershellVersion = $PSVersionTable.PSVersion.ToString()
        powershellEdition = [string]$PSVersionTable.PSEdition
    }
}
