# preflight, with only the Windows surfaces mocked.
BeforeAll {
    $operations = Join-Path $PSScriptRoot '../../src/remote/powershell'
    . (Join-Path $operations 'Operation.Common.ps1')
    . (Join-Path $operations 'Surfaces.Windows.ps1')
    . (Join-Path $operations 'SqlInstance.ps1')
    . (Join-Path $operations 'StagingFolder.ps1')
    . (Join-Path $operations 'Preflight.ps1')

    $script:CbsKey = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending'
    $script:WindowsUpdateKey = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired'
    $script:SessionManagerKey = 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager'
    . (Join-Path $PSScriptRoot 'fixtures/InvokeTestOperation.ps1')

    function Invoke-TestPreflight {
        param([System.Collections.IDictionary]$Arguments)
        return (Invoke-TestOperation -EntryPoint 'Invoke-PreflightOperation' -Arguments $Arguments)
    }
}

Describe 'pending reboot' {
    BeforeEach {
        $script:Registry = @{}
        Mock Get-RegistryKeyValues { $script:Registry[$Path] }
    }

    It 'finds none on a clean host' {
        $script:Registry[$script:SessionManagerKey] = [ordered]@{ BootExecute = @('autocheck autochk *') }
        , (Get-PendingRebootReasons -IgnorePendingFileRename $false) | Should -BeOfType [string[]]
        (Get-PendingRebootReasons -IgnorePendingFileRename $false).Count | Should -Be 0
    }

    It 'names every marker that is set' {
        # The servicing and update markers are bare keys: their presence is the signal.
        $script:Registry[$script:CbsKey] = [ordered]@{}
        $script:Registry[$script:WindowsUpdateKey] = [ordered]@{}
        $script:Registry[$script:SessionManagerKey] = [ordered]@{ PendingFileRenameOperations = @('\??\C:\Windows\Temp\a.tmp', '') }
        $reasons = Get-PendingRebootReasons -IgnorePendingFileRename $false
        $reasons | Should -Be @('Component Based Servicing: RebootPending', 'Windows Update: RebootRequired', 'Session Manager: PendingFileRenameOperations')
    }

    It 'leaves out PendingFileRenameOperations when told to' {
        $script:Registry[$script:SessionManagerKey] = [ordered]@{ PendingFileRenameOperations = @('\??\C:\x', '') }
        (Get-PendingRebootReasons -IgnorePendingFileRename $true).Count | Should -Be 0
        Get-PendingRebootReasons -IgnorePendingFileRename $false | Should -Be 'Session Manager: PendingFileRenameOperations'
    }

    It 'ignores an empty PendingFileRenameOperations value' {
        $script:Registry[$script:SessionManagerKey] = [ordered]@{ PendingFileRenameOperations = @('', '') }
        (Get-PendingRebootReasons -IgnorePendingFileRename $false).Count | Should -Be 0
    }
}

Describe 'preflight' {
    BeforeEach {
        $script:Registry = @{ $script:CbsKey = [ordered]@{} }
        Mock Get-RegistryKeyValues { $script:Registry[$Path] }
        Mock Get-VolumeFreeBytes { 53687091200 } -ParameterFilter { $Path -eq 'D:\Staging' }
        Mock Get-VolumeFreeBytes { 10737418240 }
        Mock Get-SystemDriveRoot { 'C:\' }
        Mock Test-WindowsInstallerBusy { $true }
        Mock Get-ServiceStatus { 'Running' } -ParameterFilter { $Name -eq 'MSSQLSERVER' }
        Mock Get-ServiceStatus { $null }
        Mock Get-AuthenticodeInfo { [ordered]@{ status = 'Valid'; signer = 'CN=Microsoft Corporation, O=Microsoft Corporation'; statusMessage = 'Signature verified.' } }
        # The staging folder is there, owned by Administrators, writable by SYSTEM and Administrators only.
        Mock Get-DirectorySecurityFacts { [ordered]@{ ownerSid = 'S-1-5-32-544'; owner = 'BUILTIN\Administrators'; isProtected = $true; rules = @() } }
        Mock New-ProtectedDirectory { throw 'not expected: the folder is there' }
        Mock Get-AttackSurfaceReductionRules { $null = $args }
    }

    It 'reports free space, pending reboot, Windows Installer and the services of the named instances' {
        $envelope = Invoke-TestPreflight -Arguments ([ordered]@{ stagingDir = 'D:\Staging'; instances = @('MSSQLSERVER'); ignorePendingFileRename = $false })
        $envelope['ok'] | Should -BeTrue
        $result = $envelope['result']
        $result['stagingFreeBytes'] | Should -Be 53687091200
        $result['systemFreeBytes'] | Should -Be 10737418240
        $result['pendingReboot'] | Should -Be @('Component Based Servicing: RebootPending')
        $result['installerBusy'] | Should -BeTrue
        $result['services'].Count | Should -Be 2
        $result['services'][0]['state'] | Should -Be 'Running'
        $result['services'][1]['name'] | Should -Be 'SQLSERVERAGENT'
        $result['services'][1]['state'] | Should -Be 'NotFound'
        $result['authenticode'] | Should -BeNullOrEmpty
        Should -Invoke Get-AuthenticodeInfo -Times 0
        $result['stagingFolder']['path'] | Should -Be 'D:\Staging'
        $result['stagingFolder']['created'] | Should -BeFalse
        $result['stagingFolder']['problem'] | Should -BeNullOrEmpty
        $result['asrWmiRule'] | Should -BeNullOrEmpty
    }

    It 'reports the mode of Defender''s ASR rule for PSExec and WMI process creation: <mode>' -ForEach @(
        @{ action = 1; mode = 'block' }, @{ action = 6; mode = 'warn' }, @{ action = 2; mode = 'audit' }, @{ action = 0; mode = 'off' }
    ) {
        # Get-MpPreference lists rule ids and actions side by side; ids come in whatever case they were set in.
        Mock Get-AttackSurfaceReductionRules {
            [ordered]@{ id = '56a863a9-875e-4185-98a7-b882c64b5ce5'; action = 1 }
            [ordered]@{ id = 'D1E49AAC-8F56-4280-B9BA-993A6D77406C'; action = $action }
        }
        $result = (Invoke-TestPreflight -Arguments ([ordered]@{ stagingDir = 'D:\Staging'; instances = @(); ignorePendingFileRename = $true }))['result']
        $result['asrWmiRule'] | Should -Be $mode
    }

    It 'reports the staged installer''s Authenticode status and signer when asked' {
        $installer = Join-Path ([System.IO.Path]::GetTempPath()) ('preflight-' + [guid]::NewGuid().ToString('N') + '.exe')
        [System.IO.File]::WriteAllText($installer, 'MZ')
        try {
            $result = (Invoke-TestPreflight -Arguments ([ordered]@{ stagingDir = 'D:\Staging'; instances = @(); ignorePendingFileRename = $true; installerPath = $installer }))['result']
            $result['authenticode']['status'] | Should -Be 'Valid'
            $result['authenticode']['signer'] | Should -BeLike 'CN=Microsoft Corporation*'
            $result['services'].Count | Should -Be 0
        } finally {
            Remove-Item -LiteralPath $installer -Force
        }
    }

    It 'fails plainly when the installer to check is not there' {
        $envelope = Invoke-TestPreflight -Arguments ([ordered]@{ stagingDir = 'D:\Staging'; instances = @(); ignorePendingFileRename = $true; installerPath = '/nonexistent/x.exe' })
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['type'] | Should -Be 'FileNotFound'
    }
}

Describe 'Get-AttackSurfaceReductionRules (Get-MpPreference mocked)' {
    BeforeAll {
        # The Defender module exists on Windows only: a stand-in for Pester to mock.
        function Get-MpPreference { $null = $args }
    }

    It 'pairs the rule ids with their actions' {
        Mock Get-MpPreference { [pscustomobject]@{ AttackSurfaceReductionRules_Ids = @('56a863a9-875e-4185-98a7-b882c64b5ce5', 'd1e49aac-8f56-4280-b9ba-993a6d77406c'); AttackSurfaceReductionRules_Actions = @(2, 1) } }
        $rules = @(Get-AttackSurfaceReductionRules)
        $rules.Count | Should -Be 2
        $rules[1]['id'] | Should -Be 'd1e49aac-8f56-4280-b9ba-993a6d77406c'
        $rules[1]['action'] | Should -Be 1
        Get-WmiProcessCreationRuleMode | Should -Be 'block'
    }

    It 'answers nothing when no rule is configured or Defender is not there' {
        Mock Get-MpPreference { [pscustomobject]@{ AttackSurfaceReductionRules_Ids = $null; AttackSurfaceReductionRules_Actions = $null } }
        @(Get-AttackSurfaceReductionRules).Count | Should -Be 0
        Mock Get-MpPreference { throw 'The term Get-MpPreference is not recognized' }
        @(Get-AttackSurfaceReductionRules).Count | Should -Be 0
        Get-WmiProcessCreationRuleMode | Should -BeNullOrEmpty
    }
}
