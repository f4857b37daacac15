# The staging folder: created protected when missing, refused when someone else owns it or can write
# to it. Only the ACL surfaces (Get-DirectorySecurityFacts, New-ProtectedDirectory) are mocked.
BeforeAll {
    $operations = Join-Path $PSScriptRoot '../../src/remote/powershell'
    . (Join-Path $operations 'Operation.Common.ps1')
    . (Join-Path $operations 'Surfaces.Windows.ps1')
    . (Join-Path $operations 'StagingFolder.ps1')
    . (Join-Path $operations 'StagedFile.ps1')
    . (Join-Path $PSScriptRoot 'fixtures/InvokeTestOperation.ps1')

    $script:FullControl = 0x1F01FF
    $script:ReadAndExecute = 0x1200A9
    function New-Rule {
        param([string]$Sid, [string]$Identity, [long]$Rights, [string]$Type = 'Allow', [bool]$InheritOnly = $false)
        return [ordered]@{ sid = $Sid; identity = $Identity; type = $Type; rights = $Rights; inheritOnly = $InheritOnly }
    }
    function New-Facts {
        param([string]$OwnerSid = 'S-1-5-32-544', [string]$Owner = 'BUILTIN\Administrators', [object[]]$Extra = @())
        $rules = @((New-Rule -Sid 'S-1-5-18' -Identity 'NT AUTHORITY\SYSTEM' -Rights $script:FullControl), (New-Rule -Sid 'S-1-5-32-544' -Identity 'BUILTIN\Administrators' -Rights $script:FullControl)) + $Extra
        return [ordered]@{ ownerSid = $OwnerSid; owner = $Owner; isProtected = $true; rules = $rules }
    }
}

Describe 'Initialize-StagingFolder' {
    BeforeEach {
        $script:Folders = @{ 'C:\ProgramData\AutoDBAudit' = (New-Facts) }
        Mock Get-DirectorySecurityFacts { $script:Folders[$Path] }
        Mock New-ProtectedDirectory { $script:Folders[$Path] = (New-Facts) }
    }

    It 'creates a missing folder protected and reads its ACL back' {
        $folder = Initialize-StagingFolder -Path 'C:\ProgramData\AutoDBAudit\staging'
        $folder['created'] | Should -BeTrue
        $folder['problem'] | Should -BeNullOrEmpty
        $folder['owner'] | Should -Be 'BUILTIN\Administrators (S-1-5-32-544)'
        Should -Invoke New-ProtectedDirectory -Times 1 -ParameterFilter { $Path -eq 'C:\ProgramData\AutoDBAudit\staging' }
        Should -Invoke Get-DirectorySecurityFacts -Times 2 -ParameterFilter { $Path -eq 'C:\ProgramData\AutoDBAudit\staging' }
    }

    It 'refuses a folder whose creation left no ACL to read' {
        Mock New-ProtectedDirectory { $null = $Path }
        { Initialize-StagingFolder -Path 'C:\ProgramData\AutoDBAudit\staging' } | Should -Throw '*could not be created*'
    }

    It 'accepts a folder that is there, owned by Administrators, with read-only and inherit-only rules for others' {
        $script:Folders['C:\ProgramData\AutoDBAudit\staging'] = New-Facts -Extra @(
            (New-Rule -Sid 'S-1-5-32-545' -Identity 'BUILTIN\Users' -Rights $script:ReadAndExecute),
            # CREATOR OWNER's rule applies to what is created inside, by those who may create.
            (New-Rule -Sid 'S-1-3-0' -Identity 'CREATOR OWNER' -Rights $script:FullControl -InheritOnly $true),
            (New-Rule -Sid 'S-1-1-0' -Identity 'Everyone' -Rights $script:FullControl -Type 'Deny')
        )
        $folder = Initialize-StagingFolder -Path 'C:\ProgramData\AutoDBAudit\staging'
        $folder['created'] | Should -BeFalse
        $folder['problem'] | Should -BeNullOrEmpty
        Should -Invoke New-ProtectedDirectory -Times 0
    }

    It 'names the owner of a folder someone else owns' {
        $script:Folders['C:\ProgramData\AutoDBAudit\staging'] = New-Facts -OwnerSid 'S-1-5-21-1-2-3-1107' -Owner 'CONTOSO\mallory'
        $folder = Initialize-StagingFolder -Path 'C:\ProgramData\AutoDBAudit\staging'
        $folder['problem'] | Should -Be 'it is owned by CONTOSO\mallory (S-1-5-21-1-2-3-1107), not by SYSTEM or Administrators'
    }

    It 'names every principal that can write to it, once: <name>' -ForEach @(
        @{ name = 'WriteData'; rights = 0x2 }, @{ name = 'AppendData'; rights = 0x4 }, @{ name = 'Delete'; rights = 0x10000 },
        @{ name = 'ChangePermissions'; rights = 0x40000 }, @{ name = 'TakeOwnership'; rights = 0x80000 }, @{ name = 'GENERIC_WRITE'; rights = 0x40000000 },
        @{ name = 'Modify'; rights = 0x1301BF }
    ) {
        $script:Folders['C:\ProgramData\AutoDBAudit\staging'] = New-Facts -Extra @(
            (New-Rule -Sid 'S-1-5-32-545' -Identity 'BUILTIN\Users' -Rights $rights),
            (New-Rule -Sid 'S-1-5-32-545' -Identity 'BUILTIN\Users' -Rights $rights)
        )
        $folder = Initialize-StagingFolder -Path 'C:\ProgramData\AutoDBAudit\staging'
        $folder['problem'] | Should -Be 'BUILTIN\Users (S-1-5-32-545) can write to it'
    }

    It 'refuses a parent folder from which another account could remove the staging folder' {
        $script:Folders['C:\ProgramData\AutoDBAudit'] = New-Facts -OwnerSid 'S-1-5-21-1-2-3-1107' -Owner 'CONTOSO\mallory' -Extra @(
            (New-Rule -Sid 'S-1-5-21-1-2-3-1107' -Identity 'CONTOSO\mallory' -Rights $script:FullControl)
        )
        $folder = Initialize-StagingFolder -Path 'C:\ProgramData\AutoDBAudit\staging'
        $folder['created'] | Should -BeTrue
        $folder['problem'] | Should -BeLike 'its parent "C:\ProgramData\AutoDBAudit" is owned by CONTOSO\mallory (S-1-5-21-1-2-3-1107)*'
        $folder['problem'] | Should -BeLike '*CONTOSO\mallory (S-1-5-21-1-2-3-1107) can delete or rename folders in its parent*'
    }

    It 'lets a parent that ordinary users may only add files to pass (ProgramData''s own ACL)' {
        $script:Folders['C:\ProgramData\AutoDBAudit'] = New-Facts -Extra @((New-Rule -Sid 'S-1-5-32-545' -Identity 'BUILTIN\Users' -Rights (0x2 -bor 0x4 -bor $script:ReadAndExecute)))
        (Initialize-StagingFolder -Path 'C:\ProgramData\AutoDBAudit\staging')['problem'] | Should -BeNullOrEmpty
    }
}

Describe 'stagedFile refuses an unsafe staging folder before anything is copied' {
    BeforeEach {
        $script:Folders = @{}
        Mock Get-DirectorySecurityFacts { $script:Folders[$Path] }
        Mock New-ProtectedDirectory { throw 'not expected: the folder is there' }
    }

    It 'answers StagingFolderUnsafe naming the folder and what is wrong' {
        $script:Folders['D:\Staging'] = New-Facts -OwnerSid 'S-1-5-21-1-2-3-1107' -Owner 'CONTOSO\mallory'
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-StagedFileOperation' -Arguments ([ordered]@{ stagingDir = 'D:\Staging'; fileName = 'x.exe'; createDirectory = $true })
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['type'] | Should -Be 'StagingFolderUnsafe'
        $envelope['error']['message'] | Should -BeLike 'the staging folder "D:\Staging" is not safe to run installers from: it is owned by CONTOSO\mallory*'
    }
}
